"""What every command shares: the register, store and catalog it works on, and output helpers."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime
from functools import cached_property
from pathlib import Path

import click

from archiver.catalog import Catalog, catalog_url_for
from archiver.logcontext import ContextFilter, JsonFormatter, PlainFormatter
from archiver.register import Register, load_register
from archiver.store import LocalStore, S3Store

LOG_FORMATS = ("auto", "plain", "json")
log_mode = "plain"  # what configure_logging chose: "rich" (a terminal), "plain" or "json"
rich_console = None  # the stderr Console shared by the log handler and the progress display in "rich" mode


def configure_logging(level: int, log_format: str = "auto") -> str:
    """Logs to stderr: rich on a terminal (with a progress display per page), plain structured lines
    otherwise, or one JSON object per line; every line carries the run id and page id when known.

    Returns the mode chosen, also kept in `log_mode` for the fronts.
    """
    global log_mode, rich_console
    if log_format == "json":
        log_mode = "json"
    elif log_format == "plain" or not sys.stderr.isatty():
        log_mode = "plain"
    else:
        log_mode = "rich"
    if log_mode == "rich":
        from rich.console import Console
        from rich.logging import RichHandler

        rich_console = Console(stderr=True)
        handler: logging.Handler = RichHandler(console=rich_console, show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s%(rich_context)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter() if log_mode == "json" else PlainFormatter())
    handler.addFilter(ContextFilter())
    if log_mode == "rich":
        handler.addFilter(_rich_context)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return log_mode


def _rich_context(record: logging.LogRecord) -> bool:
    parts = [f"{key}={value}" for key, value in (("run", record.run_id), ("page", record.page_id)) if value]
    record.rich_context = f"  [{' '.join(parts)}]" if parts else ""
    return True


class Services:
    """Built lazily, so `pages check` works without a store and a bad register fails before any work."""

    def __init__(self, registry: str):
        self.registry_path = Path(registry)

    @cached_property
    def register(self) -> Register:
        return load_register(self.registry_path)

    @cached_property
    def store(self) -> LocalStore | S3Store:
        """The local store, or S3 with the local store as its spool when the register has storage.s3."""
        local = LocalStore(Path(self.register.storage.local))
        s3 = self.register.storage.s3
        return S3Store(s3, local) if s3 is not None else local

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(os.environ.get("ARCHIVER_CATALOG_URL") or catalog_url_for(self.store.root))


def _default(value):
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


def echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_default))


pass_services = click.make_pass_decorator(Services)
