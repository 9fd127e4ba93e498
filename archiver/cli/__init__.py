"""The `archiver` command: parses arguments, calls the pipeline, prints, and maps errors to exit codes."""

from __future__ import annotations

import logging
import sys

import click

from archiver import __version__
from archiver.cli.bundles import bundles, register_bundle
from archiver.cli.common import LOG_FORMATS, Services, configure_logging
from archiver.cli.login import login
from archiver.cli.pages import pages
from archiver.cli.posts import post, retention
from archiver.cli.run import demo, run, snapshot, sync
from archiver.cli.scheduler import scheduler
from archiver.cli.web import serve, users
from archiver.errors import ArchiverError

log = logging.getLogger(__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
@click.option("--registry", envvar="ARCHIVER_REGISTRY", default="schedules/pages.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The register of pages (or set ARCHIVER_REGISTRY).")
@click.option("-v", "--verbose", count=True, help="More log detail on stderr (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), envvar="ARCHIVER_LOG_FORMAT", default="auto",
              show_default=True, help="Logs on stderr: auto (progress display on a terminal, plain lines "
              "otherwise), plain, or json (one object per line); or set ARCHIVER_LOG_FORMAT.")
@click.pass_context
def cli(ctx: click.Context, registry: str, verbose: int, quiet: bool, log_format: str) -> None:
    """Archive social-media pages as exact, verifiable PDF/A bundles."""
    configure_logging(logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO, log_format)
    ctx.obj = Services(registry)


cli.add_command(pages)
cli.add_command(run)
cli.add_command(snapshot)
cli.add_command(bundles)
cli.add_command(register_bundle)
cli.add_command(demo)
cli.add_command(login)
cli.add_command(scheduler)
cli.add_command(serve)
cli.add_command(users)
cli.add_command(post)
cli.add_command(retention)
cli.add_command(sync)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every ArchiverError becomes its message on stderr and its own exit code."""
    try:
        code = cli.main(args=argv, prog_name="archiver", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ArchiverError as exc:
        click.echo(f"archiver: {exc}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
