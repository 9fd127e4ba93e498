"""Översikt: every registered page with its last capture, and when the next scheduled run is due."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import Blueprint, render_template

from archiver.models import utcnow
from archiver.web.shared import current_services
from archiver.web.words import LOCAL_TZ, local_time

log = logging.getLogger(__name__)

bp = Blueprint("overview", __name__)


def last_captures(catalog) -> dict[str, dict]:
    """The latest capture of each page id in the catalog: when, its status and error, its bundle."""
    last: dict[str, dict] = {}
    for row in catalog.list_bundles():
        for page in row["pages"]:
            page_id = page["page_id"].split(".", 1)[0]
            when = page["capture_start"] or row["created_at"]
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            if page_id not in last or when >= last[page_id]["when"]:
                last[page_id] = {"when": when, "status": page["status"], "error": page["error"],
                                 "bundle_id": row["id"]}
    return last


def next_run(services) -> dict:
    """When the next scheduled run is due (by the interval) and when the scheduler's cron fires next."""
    register = services.register
    status = services.due()
    if status.last_started is None:
        text = "Nu – ingen fullständig schemalagd körning har gjorts ännu"
    elif status.due and status.next_due and status.next_due < utcnow() - timedelta(minutes=1):
        text = f"Nu – förföll {local_time(status.next_due)}"
    elif status.due:
        text = "Nu – sidor har lagts till sedan den senaste schemalagda körningen"
    else:
        text = local_time(status.next_due)
    from apscheduler.triggers.cron import CronTrigger

    now = datetime.now(LOCAL_TZ)
    # The scheduler reads the cron in the machine's local time zone; shown here in Swedish time.
    fire = CronTrigger.from_crontab(register.schedule.cron).get_next_fire_time(None, now)
    return {"due": status.due, "text": text, "last": status.last_started,
            "interval": register.schedule.interval_months, "cron_next": fire}


@bp.get("/")
def overview():
    services = current_services()
    return render_template("overview.html", pages=services.register.pages,
                           last=last_captures(services.catalog), next_run=next_run(services))
