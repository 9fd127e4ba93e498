"""`archiver worker` and `archiver runs show`: fronts over the job queue (archiver/queue), which needs the
catalog on PostgreSQL (ARCHIVER_CATALOG_URL)."""

from __future__ import annotations

import asyncio
import os

import click

from archiver.cli.common import Services, echo_json, pass_services


def queue_catalog_url() -> str:
    """ARCHIVER_CATALOG_URL, which the queue needs to name a PostgreSQL catalog (else exit 2, saying so)."""
    from archiver.queue.app import libpq_url

    url = os.environ.get("ARCHIVER_CATALOG_URL")
    libpq_url(url)
    return url


@click.command()
@click.option("--concurrency", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Jobs (page captures, bundle assemblies) run at once by this worker.")
@click.option("--stalled-after", "stalled_after_s", type=click.FloatRange(1, 3600), default=60, show_default=True,
              help="Seconds without a heartbeat after which another worker's jobs are run again.")
@click.option("--until-empty", is_flag=True, help="Stop once the queue is empty instead of waiting for jobs.")
@pass_services
def worker(services: Services, concurrency: int, stalled_after_s: float, until_empty: bool) -> None:
    """Run queued captures and bundle assemblies (of every organisation in the catalog) until stopped."""
    from archiver.capture import find_browser
    from archiver.queue.worker import serve

    url = queue_catalog_url()
    asyncio.run(serve(url, concurrency, find_browser(), stalled_after_s, wait=not until_empty))


@click.group()
def runs() -> None:
    """Queued runs (`archiver run --queue`)."""


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON on stdout.")
@pass_services
def show(services: Services, run_id: str, as_json: bool) -> None:
    """A queued run's state (queued, running, done, failed), its bundle and each capture's state."""
    from archiver.queue import steps

    queue_catalog_url()
    shown = steps.show(services.catalog, run_id.strip())
    if as_json:
        echo_json(shown)
        return
    click.echo(f"run {shown['run_id']}: {shown['status']}" + (f", bundle {shown['bundle_id']}" if shown['bundle_id']
                                                             else ""))
    if shown["error"]:
        click.echo(f"error: {shown['error']}")
    for page in shown["pages"]:
        click.echo(f"  {page['key']}: {page['status']} (attempts {page['attempts']}"
                   + (f", {page['worker']}" if page["worker"] else "") + ")"
                   + (f": {page['error']}" if page["error"] else ""))
