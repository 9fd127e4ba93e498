"""Exceptions that carry their own exit code; only the CLI turns them into exits."""

from __future__ import annotations


class ArchiverError(Exception):
    """Base of every error the tool reports to a person."""

    exit_code = 1


class BadInputError(ArchiverError):
    """The user gave something we refuse before doing any work (exit 2)."""

    exit_code = 2


class RegisterError(BadInputError):
    """The register of pages is invalid; names the file, line and field."""

    def __init__(self, path: str, problems: list[tuple[int | None, str, str]]):
        self.path = str(path)
        self.problems = problems
        super().__init__(self.describe())

    def describe(self) -> str:
        lines = []
        for line, field, message in self.problems:
            where = f"{self.path}:{line}" if line else self.path
            lines.append(f"{where}: {field}: {message}" if field else f"{where}: {message}")
        return "\n".join(lines)


class ConfigurationError(BadInputError):
    """The environment is not set up (no browser found, unwritable store, ...)."""


class NotFoundError(BadInputError):
    """A bundle id or page id that does not exist."""


class StoreError(ArchiverError):
    """The store refused or failed an operation; nothing stored was changed."""


class CatalogError(ArchiverError):
    """The catalog refused a read or write (locked by another process, disk full); what is stored stays."""


class VerificationError(ArchiverError):
    """A bundle failed verification (changed bytes, bad PDF/A)."""


class BusyError(ArchiverError):
    """Another run holds the store's lock; nothing was done. Exit 75 (EX_TEMPFAIL): try again later."""

    exit_code = 75
