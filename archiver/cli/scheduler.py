"""`archiver scheduler`: a thin front over `archiver.scheduler.serve`."""

from __future__ import annotations

import click

from archiver.cli.common import Services, pass_services


@click.command()
@click.option("--run-now", is_flag=True,
              help="Also make one scheduled run at once on start (not stored; for a first run or a test).")
@pass_services
@click.pass_context
def scheduler(ctx: click.Context, services: Services, run_now: bool) -> None:
    """Run scheduled captures on `schedule.cron` until stopped (SIGTERM), catching up missed runs once."""
    from archiver.scheduler import serve

    register = services.register  # a bad register (or cron) is refused here, exit 2
    collect_cron = register.collect.cron if any(p.api is not None for p in register.pages) else None
    ctx.exit(serve(str(services.registry_path), register.schedule.cron, services.catalog, run_now=run_now,
                   collect_cron=collect_cron))
