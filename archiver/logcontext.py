"""Run id and page id for every log line: context variables set by the pipeline and by capture_page.

`configure_logging` (archiver/cli/common.py) installs `ContextFilter`, which copies them onto each record
as `run_id` and `page_id` (None when not known), so any formatter can print them.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

run_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("archiver_run_id", default=None)
page_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("archiver_page_id", default=None)


class ContextFilter(logging.Filter):
    """Adds `run_id` and `page_id` to every record passing through the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "run_id", None) is None:
            record.run_id = run_id_var.get()
        if getattr(record, "page_id", None) is None:
            record.page_id = page_id_var.get()
        return True


class PlainFormatter(logging.Formatter):
    """`time LEVEL logger [run=… page=…]: message`; the bracket only holds what is known."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{key}={value}" for key, value in (("run", getattr(record, "run_id", None)),
                                                      ("page", getattr(record, "page_id", None))) if value]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, run_id, page_id (and exc_info as text)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", None),
            "page_id": getattr(record, "page_id", None),
        }
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)
