"""`archiver collect [--page ID]... [--check] [--json]`: posts and comments through the platforms' APIs."""

from __future__ import annotations

import click

from archiver.cli.common import Services, echo_json, pass_services
from archiver.collect.http import CollectError


@click.command("collect")
@click.option("--page", "page_ids", multiple=True, metavar="ID", help="Only this page (repeatable).")
@click.option("--check", is_flag=True, help="Only check that each page's token still works; collect nothing.")
@click.option("--list", "as_list", is_flag=True,
              help="List what the catalog holds (every item ever collected, removed ones marked); collect nothing.")
@click.option("--bundle", "as_bundle", is_flag=True,
              help="Make a registrable PDF/A bundle of what was collected (with --since and --until) instead.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="With --bundle: posts published from this day.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="With --bundle: ...up to (not including) this day.")
@click.option("--by", default=None, help="With --bundle: who asks for it (default the user name).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"pages": [{"id", "status", "failure", "error", "seen", "new", "changed", "removed", ...}]}.')
@pass_services
def collect(services: Services, page_ids: tuple[str, ...], check: bool, as_list: bool, as_bundle: bool, since,
            until, by: str | None, as_json: bool) -> None:
    """Collect every post and comment of the pages whose register entry has `api:`, through the platform's
    own API: what is new or changed since the last collection, and what was removed. Safe from cron every
    hour (one collection at a time). Exit 1 when a page's collection failed or its token does not work."""
    if as_bundle:
        _bundle(services, page_ids, since, until, by, as_json)
        return
    if as_list:
        _list(services, page_ids, as_json)
        return
    outcomes = services.check_tokens(page_ids) if check else services.collect(page_ids)
    if as_json:
        echo_json({"pages": outcomes})
    else:
        for one in outcomes:
            if check:
                click.echo(f"{one['id']}: {'token works' if one['ok'] else 'TOKEN DOES NOT WORK: ' + one['error']}")
            elif one["status"] == "ok":
                click.echo(f"{one['id']}: {one['seen']} item(s), {one['new']} new, {one['changed']} changed, "
                           f"{len(one['removed'])} removed, {one['files']} file(s)")
            else:
                click.echo(f"{one['id']}: FAILED ({one['failure']}): {one['error']}")
    failed = [o["id"] for o in outcomes if not (o["ok"] if check else o["status"] == "ok")]
    if failed:
        raise CollectError(f"{'token check' if check else 'collection'} failed for {', '.join(failed)}")


def _bundle(services: Services, page_ids, since, until, by, as_json: bool) -> None:
    import getpass

    from archiver.collect.bundle import make_bundle
    from archiver.errors import BadInputError
    from archiver.registration import TIME_ZONE

    if since is None or until is None:
        raise BadInputError("--bundle needs --since DATE and --until DATE (YYYY-MM-DD)")
    made = make_bundle(services, page_ids, since.replace(tzinfo=TIME_ZONE), until.replace(tzinfo=TIME_ZONE),
                       by or getpass.getuser())
    if as_json:
        echo_json(made)
    else:
        click.echo(f"bundle {made['bundle_id']}: {made['posts']} post(s), {made['comments']} comment(s), "
                   f"{made['files']} file(s) in {made['location']}")


LISTED = ("platform", "page_id", "kind", "item_id", "parent_id", "post_id", "created_at", "first_seen_at",
          "last_seen_at", "removed_at", "versions", "sha256")


def _list(services: Services, page_ids: tuple[str, ...], as_json: bool) -> None:
    rows = [r for r in services.catalog.collected() if not page_ids or r["page_id"] in page_ids]
    if as_json:
        echo_json([{k: r[k] for k in LISTED} for r in rows])
        return
    for r in rows:
        removed = f"  REMOVED (last seen {r['last_seen_at']:%Y-%m-%d %H:%M}, missed {r['removed_at']:%Y-%m-%d %H:%M} UTC)" \
            if r["removed_at"] else ""
        click.echo(f"{r['page_id']} {r['kind']:<7} {r['item_id']}  v{r['versions']}  {r['sha256'][:12]}{removed}")
    if not rows:
        click.echo("nothing collected yet")
