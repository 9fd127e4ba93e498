"""`archiver run`, `snapshot`, `sync` and `demo`: fronts over `Services.run` and `Services.sync`."""

from __future__ import annotations

import getpass
import json
import logging
import tempfile
from pathlib import Path

import click

from archiver.cli.common import Services, echo_json, pass_services
from archiver.cli.progress import page_progress
from archiver.errors import BadInputError
from archiver.models import RunRequest, iso

log = logging.getLogger(__name__)


def _report(services: Services, request: RunRequest, as_json: bool, profile_to: str | None = None) -> int:
    from archiver.capture import find_browser
    from archiver.capture.batch import capture_jobs
    from archiver.profile import process_age_s

    start_up = process_age_s() if profile_to else 0.0

    selected = services.register.select(list(request.page_ids))  # unknown ids: refused before the browser
    find_browser()  # no browser: exit 2 before the progress display starts

    with page_progress(len(capture_jobs(selected, only_keys=request.capture_keys)), as_json) as progress:
        outcome = services.run(request, on_page=progress, profile=profile_to is not None)
    result, notified = outcome.result, outcome.notified
    if profile_to:
        write_profile(Path(profile_to), result, start_up, process_age_s())
    if as_json:
        echo_json(result.as_dict() | (notified or {}))
    else:
        ok = len(result.captures) - len(result.failed)
        click.echo(f"bundle {result.bundle_id}: {ok} of {len(result.captures)} page(s) captured")
        click.echo(f"PDF:      {result.pdf}")
        click.echo(f"manifest: {result.manifest}")
        if result.upload is not None and result.upload["status"] == "pending":
            click.echo(f"upload:   PENDING, kept in the local spool: {result.upload['error']}")
        for capture in result.failed:
            click.echo(f"failed:   {capture.label}: {capture.error}")
        if notified is not None:
            click.echo("notified: e-mail sent" if notified["notified"]
                       else f"notified: NO, e-mail not sent: {notified['notify_error']}")
    return 1 if result.failed else 0


def write_profile(path: Path, result, start_up_s: float, total_s: float) -> None:
    """`run --profile FILE`: the run's steps and each page's, timed, as JSON (what `make bench` reads).

    `start_up` is the interpreter's start and the imports before the command began; `other` is what no
    step covers (the register, the lock, the progress display), so the figures add up to the process's time.
    """
    steps = [{"name": "start-up", "wall_s": round(start_up_s, 4)}, *result.timings]
    named = sum(step["wall_s"] for step in steps if "within" not in step)
    steps.append({"name": "other", "wall_s": round(max(0.0, total_s - named), 4)})
    figures = {"bundle_id": result.bundle_id, "wall_s": round(total_s, 4), "run": steps,
               "pages": {capture.key: capture.timings for capture in result.captures}}
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def _reason_and_by(reason: str | None, by: str | None) -> tuple[str, str]:
    if reason is None:
        return "scheduled", by or "scheduler"
    if not reason.strip():
        raise BadInputError("--reason must not be empty")
    return reason.strip(), by or getpass.getuser()


@click.command()
@click.option("--if-due", is_flag=True, help="Only run when a scheduled run is due (safe to call daily).")
@click.option("--page", "page_ids", multiple=True, metavar="ID", help="Capture only this page (repeatable).")
@click.option("--reason", help="Why this run is made; default 'scheduled'.")
@click.option("--by", help="Who asked for it; default 'scheduler' for scheduled runs, else your user name.")
@click.option("--retry-failed", "retry_of", metavar="BUNDLE_ID",
              help="Capture again the pages that failed in this bundle, into a new bundle that completes it.")
@click.option("--queue", "queued", is_flag=True,
              help="Put the run on the job queue (PostgreSQL catalog) and print its id at once; workers capture it.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--profile", "profile_to", metavar="FILE", type=click.Path(dir_okay=False, writable=True),
              help="Write the wall and CPU seconds of every step, the run's and each page's, to FILE (JSON).")
@pass_services
@click.pass_context
def run(ctx: click.Context, services: Services, if_due: bool, page_ids: tuple[str, ...], reason: str | None,
        by: str | None, retry_of: str | None, queued: bool, as_json: bool, profile_to: str | None) -> None:
    """Capture pages, build the PDF/A bundle, store it and record it in the catalog."""
    if queued:
        if retry_of is not None or profile_to:
            raise BadInputError("--queue takes --if-due, --page, --reason and --by; not --retry-failed or --profile")
        ctx.exit(_enqueue(services, RunRequest(*_reason_and_by(reason, by), page_ids=page_ids), as_json, if_due))
    if retry_of is not None:
        with services.lock():  # one run at a time, retries included
            ctx.exit(_retry_failed(services, retry_of, reason, by, as_json, if_due=if_due, page_ids=page_ids))
    reason, by = _reason_and_by(reason, by)
    services.register.select(list(page_ids))  # unknown ids are refused before the lock creates the store
    with services.lock():  # the due check too: two callers never both run
        ctx.exit(_run_locked(services, if_due, page_ids, reason, by, as_json, profile_to))


def _run_locked(services: Services, if_due: bool, page_ids: tuple[str, ...], reason: str, by: str,
                as_json: bool, profile_to: str | None = None) -> int:
    if if_due:
        services.sync()  # a run a crash left stored but uncatalogued counts before deciding (the run syncs too)
        status = services.due()
        if not status.due:
            return _not_due(status, as_json)
        log.info("run is due: %s", status.why)
    return _report(services, RunRequest(reason=reason, requested_by=by, page_ids=page_ids), as_json, profile_to)


def _not_due(status, as_json: bool, queued: str | None = None) -> int:
    """`run --if-due` when no run is due (or, queued, one is on the queue and not done yet)."""
    if as_json:
        echo_json({"due": False, "next_due": iso(status.next_due), **({"queued": queued} if queued else {})})
    else:
        click.echo(f"not due: {f'run {queued} is queued and not done yet' if queued else status.why}")
    return 0


def _enqueue(services: Services, request: RunRequest, as_json: bool, if_due: bool = False) -> int:
    from archiver.catalog.queue import RunQueue
    from archiver.cli.queue import queue_catalog_url
    from archiver.queue.app import enqueue_run

    services.register.select(list(request.page_ids))  # unknown ids: exit 2 before anything is queued
    queue_catalog_url()
    if if_due:
        waiting = RunQueue(services.catalog).unfinished("scheduled")
        status = services.due()
        if waiting or not status.due:
            return _not_due(status, as_json, waiting[0] if waiting else None)
    queued = enqueue_run(services, request)
    if as_json:
        echo_json({"run_id": queued["run_id"]})
    else:
        click.echo(f"run {queued['run_id']} queued: {len(queued['captures'])} capture(s); "
                   f"`archiver runs show {queued['run_id']}` follows it")
    return 0


def _retry_failed(services: Services, bundle_id: str, reason: str | None, by: str | None, as_json: bool, *,
                  if_due: bool, page_ids: tuple[str, ...]) -> int:
    from archiver.retry import plan_retry

    if if_due or page_ids:
        raise BadInputError("--retry-failed retries the failed pages of one bundle; it takes no --if-due or --page")
    if reason is not None and not reason.strip():
        raise BadInputError("--reason must not be empty")
    plan = plan_retry(services.catalog, services.register, bundle_id.strip(), by or getpass.getuser(), reason)
    if plan.dropped:
        log.warning("not retried, no longer in the register: %s", ", ".join(plan.dropped))
    if plan.request is None:
        if as_json:
            echo_json(plan.as_dict())
        elif plan.failed:
            click.echo(f"nothing to retry: the failed pages of {bundle_id} are no longer in the register "
                       f"({', '.join(plan.dropped)})")
        else:
            click.echo(f"nothing to retry: every page of {bundle_id} was captured (in it or by a retry)")
        return 0
    log.info("retrying %s for %s", ", ".join(plan.request.capture_keys), plan.completes)
    return _report(services, plan.request, as_json)


@click.command()
@click.argument("page_id")
@click.option("--reason", required=True, help="What is about to change.")
@click.option("--by", required=True, help="Who asked for the snapshot.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@pass_services
@click.pass_context
def snapshot(ctx: click.Context, services: Services, page_id: str, reason: str, by: str, as_json: bool) -> None:
    """Pre-change snapshot of one page, before a major change to it."""
    if not reason.strip() or not by.strip():
        raise BadInputError("--reason and --by must not be empty")
    request = RunRequest(reason=f"pre-change: {reason.strip()}", requested_by=by.strip(), page_ids=(page_id,))
    services.register.select([page_id])  # an unknown id is refused before the lock creates the store
    with services.lock():
        ctx.exit(_report(services, request, as_json))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@pass_services
@click.pass_context
def sync(ctx: click.Context, services: Services, as_json: bool) -> None:
    """Bring the store and catalog level without a capture: finish registrations and cullings a crash
    interrupted, catalogue bundles an interrupted run left uncatalogued, upload bundles waiting in the S3 spool.

    Every run does this first; `sync` does it alone, e.g. right after an S3 outage. Exit 1 while some
    bundle still cannot be uploaded, catalogued or repaired.
    """
    with services.lock():
        done = services.sync()
    repaired, unreadable = done.get("repaired", []), done.get("unreadable", {})
    unresolved = [r for r in repaired if r["outcome"] == "unresolved"]
    if as_json:
        echo_json(done)
    else:
        for repair in repaired:
            click.echo(f"{'repaired' if repair['outcome'] != 'unresolved' else 'NOT repaired'} {repair['bundle_id']}"
                       f" ({repair['action']} {repair['outcome']}): {repair['detail']}")
        for bundle_id in done["catalogued"]:
            click.echo(f"catalogued {bundle_id} (stored by an interrupted run)")
        for bundle_id, problem in unreadable.items():
            click.echo(f"NOT catalogued {bundle_id}: stored, but its manifest is unreadable: {problem}")
        for bundle_id in done["uploaded"]:
            click.echo(f"uploaded {bundle_id}")
        for bundle_id, error in done["pending"].items():
            click.echo(f"still pending {bundle_id}: {error}")
        if not any(done.values()):
            click.echo("nothing to do: every bundle is stored and catalogued")
    ctx.exit(1 if done["pending"] or unreadable or unresolved else 0)


@click.command()
@click.option("--out", "out_dir", default="output", show_default=True, type=click.Path(file_okay=False),
              help="The store to write the demo bundle into.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.pass_context
def demo(ctx: click.Context, out_dir: str, as_json: bool) -> None:
    """Capture the demo site shipped with the tool (served on 127.0.0.1) through the real pipeline."""
    from archiver.demo import SITE_DIR, demo_register_yaml, serve_directory

    with serve_directory(SITE_DIR) as base_url, tempfile.TemporaryDirectory() as tmp:
        registry = Path(tmp) / "demo-pages.yaml"
        registry.write_text(demo_register_yaml(base_url, str(Path(out_dir).resolve())), encoding="utf-8")
        services = Services(str(registry))
        code = _report(services, RunRequest(reason="scheduled", requested_by="make run (demo)"), as_json)
    ctx.exit(code)
