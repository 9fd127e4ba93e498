"""`archiver pages list|check|publish`: the register as people, scripts and the public see it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from archiver.cli.common import Services, echo_json, pass_services
from archiver.register import dump_pages
from archiver.register.publish import write_published
from archiver.register.rules import address_warnings, register_warnings


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
    """Validate the register; exit 2 with file, line and field if it is wrong.

    Also warns (exit 0) where a page breaks the organisation's rules: a Facebook short name outside the
    `rules.facebook_prefix` convention, or a page with no named owner; and, unless
    `capture.allow_private_networks` is true, where a page's host name resolves to a private address.
    """
    register = services.register
    warnings = sorted(register_warnings(register) + address_warnings(register), key=lambda w: w.line or 0)
    if as_json:
        rows = dump_pages(register)
        for row in rows:
            row["warnings"] = [w.message for w in warnings if w.page_id == row["id"]]
        echo_json(rows)
    else:
        click.echo(f"{services.registry_path}: OK, {len(register.pages)} page(s) for {register.organisation}"
                   + (f", {len(warnings)} warning(s)" if warnings else ""))
    for warning in warnings:  # the rules' advice: reported, never a reason to refuse the register
        click.echo(f"warning: {warning.describe(str(services.registry_path))}", err=True)


@pages.command("publish")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write index.html and sociala-medier.json into (created if missing).")
@click.option("--updated", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, metavar="YYYY-MM-DD",
              help="The 'senast uppdaterad' date, YYYY-MM-DD (default: the register file's last change).")
@click.option("--json", "as_json", is_flag=True, help="Print where the files were written as JSON.")
@pass_services
def publish_pages(services: Services, out_dir: str, updated: datetime | None, as_json: bool) -> None:
    """Write the public list of the organisation's social-media accounts (rule 8) as HTML and JSON.

    Both files are regenerated from the register each time and replace the previous ones.
    """
    register = services.register  # a bad register exits 2 here, before anything is written
    published = write_published(register, Path(out_dir), updated=updated.date() if updated else None)
    if as_json:
        echo_json({"html": published.html, "json": published.json, "updated": published.updated.isoformat(),
                   "pages": list(published.page_ids)})
        return
    click.echo(published.html)
    click.echo(published.json)
