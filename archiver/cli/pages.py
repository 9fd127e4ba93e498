"""`archiver pages list|check`: the register as people and scripts see it."""

from __future__ import annotations

import click

from archiver.cli.common import Services, echo_json, pass_services
from archiver.register import dump_pages


@click.group()
def pages() -> None:
    """Show or validate the register of pages."""


@pages.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the pages as JSON.")
@pass_services
def list_pages(services: Services, as_json: bool) -> None:
    """List the registered pages."""
    rows = dump_pages(services.register)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:<20} {row['platform']:<10} {row['url']}  ({row['owner'] or 'no owner'})")


@pages.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the pages as JSON.")
@pass_services
def check_pages(services: Services, as_json: bool) -> None:
    """Validate the register; exit 2 with file, line and field if it is wrong."""
    register = services.register
    if as_json:
        echo_json(dump_pages(register))
    else:
        click.echo(f"{services.registry_path}: OK, {len(register.pages)} page(s) for {register.organisation}")
