"""`archiver register` and `archiver cases list|show`: the registrar's record of cases and their documents."""

from __future__ import annotations

import click

from archiver.cli.common import Services, echo_json, pass_services
from archiver.errors import NotFoundError
from archiver.registration import RegistrationRequest, secrecy_words


@click.command("register")
@click.argument("bundle_id")
@click.option("--dnr", help='The diarienummer, e.g. "KS 2026/123". Optional only with a yearly collective case '
              "that is open: the bundle is then its next document.")
@click.option("--by", required=True, help="Who registered it.")
@click.option("--case-title", help="The case's title (ärendemening), when this registration opens the case.")
@click.option("--classification", help="The case's code in the classification structure, e.g. 1.4.2.")
@click.option("--document-no", type=click.IntRange(1, 999_999),
              help="The document's running number (löpnummer) in the case; default the next free one.")
@click.option("--secrecy", default="none", show_default=True, metavar="none|OSL:K:P",
              help="Secret under OSL, e.g. OSL:21:7 (chapter 21, section 7), or none.")
@click.option("--json", "as_json", is_flag=True)
@pass_services
def register_bundle(services: Services, bundle_id: str, dnr: str | None, by: str, case_title: str | None,
                    classification: str | None, document_no: int | None, secrecy: str, as_json: bool) -> None:
    """Record a bundle's registration, as a document in a case, in the catalog and its manifest."""
    entry = services.register_bundle(bundle_id, RegistrationRequest(
        by, dnr, case_title=case_title, classification=classification, document_no=document_no, secrecy=secrecy))
    if as_json:
        echo_json({"bundle_id": bundle_id, **entry})
    elif entry.get("already"):
        click.echo(f"{bundle_id} was already registered as {entry['dnr']} by {entry['registered_by']} on "
                   f"{entry['registered_at']:%Y-%m-%d %H:%M} UTC; nothing changed")
    else:
        opened = " (opens the case)" if entry.get("opened_case") else ""
        click.echo(f"{bundle_id} registered as {entry['dnr']}, document {entry['document_no']}{opened}, "
                   f"by {entry['registered_by']}")


@click.group()
def cases() -> None:
    """The cases bundles are registered in, with their documents."""


@cases.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_services
def list_cases(services: Services, as_json: bool) -> None:
    """Every case, oldest first, with how many documents it has."""
    rows = services.catalog.list_cases()
    if as_json:
        echo_json([_case_json(row) for row in rows])
        return
    if not rows:
        click.echo("no cases yet")
    for row in rows:
        collective = f"  collective case {row['collective_year']}" if row["collective_year"] else ""
        click.echo(f"{row['dnr']}  {row['title'] or ''}  [{row['classification'] or 'no classification'}]  "
                   f"{len(row['documents'])} document(s){collective}")


@cases.command("show")
@click.argument("dnr")
@click.option("--json", "as_json", is_flag=True)
@pass_services
def show_case(services: Services, dnr: str, as_json: bool) -> None:
    """One case and its documents (the bundles registered in it)."""
    wanted = " ".join(dnr.split())
    row = next((r for r in services.catalog.list_cases() if r["dnr"] == wanted), None)
    if row is None:
        raise NotFoundError(f"no case {wanted!r} in the catalog")
    if as_json:
        echo_json(_case_json(row))
        return
    click.echo(f"{row['dnr']}  {row['title'] or ''}")
    click.echo(f"    classification {row['classification'] or '-'}; opened {row['opened_at']:%Y-%m-%d} by "
               f"{row['opened_by']}" + (f"; collective case {row['collective_year']}" if row["collective_year"] else ""))
    for doc in row["documents"]:
        secret = secrecy_words(doc["secrecy"])
        click.echo(f"  {doc['document_no'] or '-':>3}  {doc['bundle_id']}  {doc['document_title'] or ''}"
                   + (f"  SEKRETESS {secret}" if secret else ""))


def _case_json(row: dict) -> dict:
    return {"dnr": row["dnr"], "title": row["title"], "classification": row["classification"],
            "collective_year": row["collective_year"], "opened_by": row["opened_by"], "opened_at": row["opened_at"],
            "documents": [{"document_no": d["document_no"], "bundle_id": d["bundle_id"],
                           "title": d["document_title"], "secrecy": d["secrecy"],
                           "registered_by": d["registered_by"], "registered_at": d["registered_at"]}
                          for d in row["documents"]]}
