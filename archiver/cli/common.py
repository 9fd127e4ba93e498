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
from archiver.register import Register, load_register
from archiver.store import LocalStore


def configure_logging(level: int) -> None:
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("fontTools").setLevel(logging.WARNING)


class Services:
    """Built lazily, so `pages check` works without a store and a bad register fails before any work."""

    def __init__(self, registry: str):
        self.registry_path = Path(registry)

    @cached_property
    def register(self) -> Register:
        return load_register(self.registry_path)

    @cached_property
    def store(self) -> LocalStore:
        return LocalStore(Path(self.register.storage.local))

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
