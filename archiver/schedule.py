"""When a scheduled run is due: pure rules over the catalog's last complete scheduled run."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime


def add_months(ts: datetime, months: int) -> datetime:
    """Same day of the month, clamped to the month's length (31 Aug + 6 months = 28/29 Feb)."""
    month_index = ts.month - 1 + months
    year, month = ts.year + month_index // 12, month_index % 12 + 1
    return ts.replace(year=year, month=month, day=min(ts.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class DueStatus:
    due: bool
    next_due: datetime | None
    why: str
    last_started: datetime | None = None  # the last complete scheduled run's start, None if never


def due_status(last_started: datetime | None, last_page_ids: set[str], page_ids: set[str],
               interval_months: int, now: datetime) -> DueStatus:
    """Due if never run, if the interval has passed, or if pages were added since the last run."""
    if last_started is None:
        return DueStatus(True, now, "no complete scheduled run yet")
    next_due = add_months(last_started, interval_months)
    added = sorted(page_ids - last_page_ids)
    if added:
        return DueStatus(True, now, f"pages added since the last run: {', '.join(added)}", last_started)
    if now >= next_due:
        return DueStatus(True, next_due, f"last complete scheduled run started {last_started:%Y-%m-%d}",
                         last_started)
    return DueStatus(False, next_due, f"next run due {next_due:%Y-%m-%d}", last_started)
