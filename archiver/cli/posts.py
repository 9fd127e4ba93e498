"""`archiver post` and `archiver retention`: single posts under the records plan, and culling them."""

from __future__ import annotations

import getpass

import click

from archiver import retention as plan_
from archiver.cli.common import Services, echo_json, pass_services
from archiver.errors import BadInputError
from archiver.models import POST_CLASSES, PostRequest, utcnow
from archiver.store.local import check_bundle_id

CLASS_HELP = ("decision: leads to a decision, kept and registered; action: leads to an action, may be culled "
              "once marked done; evidence: criminal material kept for a police report until released.")


@click.command()
@click.argument("url")
@click.option("--class", "post_class", required=True, type=click.Choice(POST_CLASSES), help=CLASS_HELP)
@click.option("--reason", required=True, help="Why this post is captured.")
@click.option("--by", required=True, help="Who asked for the capture.")
@click.option("--dnr", help='Register it at once under this diarienummer, e.g. "KS 2026/123".')
@click.option("--page", "page_id", metavar="ID",
              help="The registered account the post belongs to, when its URL does not show it.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@pass_services
@click.pass_context
def post(ctx: click.Context, services: Services, url: str, post_class: str, reason: str, by: str,
         dnr: str | None, page_id: str | None, as_json: bool) -> None:
    """Capture one post or comment thread of a registered account, expanded, as its own bundle."""
    if dnr is not None and not dnr.strip():
        raise BadInputError("--dnr must not be empty")
    request = PostRequest(url=url.strip(), post_class=post_class, reason=reason.strip(), requested_by=by.strip(),
                          dnr=dnr.strip() if dnr else None)
    from archiver.register.rules import page_for_post

    page_for_post(services.register, request.url, page_id)  # a URL not on a registered host: exit 2, no lock
    with services.lock():
        outcome = services.post(request, page_id)
    result = outcome.result
    capture = result.captures[0]
    if as_json:
        echo_json(result.as_dict() | {"class": post_class, "post": capture.post} | (outcome.notified or {}))
    else:
        click.echo(f"bundle {result.bundle_id}: post {'captured' if capture.ok else 'NOT captured'} ({post_class})")
        click.echo(f"PDF:      {result.pdf}")
        click.echo(f"manifest: {result.manifest}")
        if capture.post:
            for key, label in (("permalink", "permalink"), ("author", "author"), ("shown_time", "shown time")):
                click.echo(f"{label + ':':<10}{capture.post.get(key) or '–'}")
        if not capture.ok:
            click.echo(f"failed:   {capture.error}")
        for warning in capture.warnings:
            click.echo(f"warning:  {warning}")
    ctx.exit(1 if result.failed else 0)


@click.group(invoke_without_command=True)
@click.option("--apply", "do_apply", is_flag=True, help="Delete what the plan allows to cull (default: only list).")
@click.option("--by", help="Who applies the plan (for the audit trail); default your user name.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan (and deletions) as JSON.")
@pass_services
@click.pass_context
def retention(ctx: click.Context, services: Services, do_apply: bool, by: str | None, as_json: bool) -> None:
    """List the single-post bundles the records plan allows to cull; with --apply, delete exactly those.

    Registered bundles, bundles under S3 Object Lock and page bundles are never deleted.
    """
    if ctx.invoked_subcommand is not None:
        return
    by = (by or getpass.getuser()).strip()
    decisions = plan_.plan(services.catalog, services.store)
    outcomes = []
    if do_apply:
        with services.lock():
            outcomes = plan_.apply(services.catalog, services.store, by, utcnow())
    cull = [d for d in decisions if d.cull]
    if as_json:
        echo_json({"apply": do_apply, "cull": [d.as_dict() for d in cull],
                   "keep": [d.as_dict() for d in decisions if not d.cull],
                   "deleted": [o.bundle_id for o in outcomes if o.deleted],
                   "not_deleted": [{"bundle_id": o.bundle_id, "error": o.error} for o in outcomes if not o.deleted]})
    else:
        click.echo(f"may be culled ({len(cull)}):" if cull else "nothing may be culled")
        for d in cull:
            click.echo(f"  {d.bundle_id}  {d.post_class:<8}  {d.page_id}  {d.why}  {d.url}")
        kept = [d for d in decisions if not d.cull]
        if kept:
            click.echo(f"kept ({len(kept)}):")
            for d in kept:
                click.echo(f"  {d.bundle_id}  {d.post_class:<8}  {d.page_id}  {d.why}")
        for o in outcomes:
            click.echo(f"deleted {o.bundle_id}" if o.deleted else f"NOT deleted {o.bundle_id}: {o.error}")
        if not do_apply and cull:
            click.echo(f"nothing deleted; run `archiver retention --apply` to delete the {len(cull)} above")
    ctx.exit(1 if any(not o.deleted for o in outcomes) else 0)


def _mark(services: Services, bundle_id: str, state: str, by: str, as_json: bool) -> None:
    check_bundle_id(bundle_id)
    if not by.strip():
        raise BadInputError("--by must not be empty")
    entry = services.catalog.mark_post(bundle_id, state, by.strip(), utcnow())
    if as_json:
        echo_json(entry)
    else:
        click.echo(f"{bundle_id} marked {state} by {entry['by']}")


@retention.command("done")
@click.argument("bundle_id")
@click.option("--by", required=True, help="Who says the action is done.")
@click.option("--json", "as_json", is_flag=True)
@pass_services
def mark_done(services: Services, bundle_id: str, by: str, as_json: bool) -> None:
    """Mark an action post's action as done: the plan then allows culling it."""
    _mark(services, bundle_id, "done", by, as_json)


@retention.command("release")
@click.argument("bundle_id")
@click.option("--by", required=True, help="Who releases the evidence.")
@click.option("--json", "as_json", is_flag=True)
@pass_services
def mark_released(services: Services, bundle_id: str, by: str, as_json: bool) -> None:
    """Release an evidence post (no longer needed for a police report): the plan then allows culling it."""
    _mark(services, bundle_id, "released", by, as_json)
