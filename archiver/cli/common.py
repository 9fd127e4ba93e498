"""What every command shares: the `Services` of the register it works on, logging and output helpers."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path

import click

from archiver.logcontext import ContextFilter, JsonFormatter, PlainFormatter
from archiver.services import Services

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
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the catalog logs its own migrations, in a line
    logging.captureWarnings(True)
    return log_mode


def _rich_context(record: logging.LogRecord) -> bool:
    parts = [f"{key}={value}" for key, value in (("run", record.run_id), ("page", record.page_id)) if value]
    record.rich_context = f"  [{' '.join(parts)}]" if parts else ""
    return True


def _default(value):
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


def echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_default))


pass_services = click.make_pass_decorator(Services)
