"""`archiver bundles list|get|verify|export`: what the registrar uses (`register` and `cases`: cli/cases.py)."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from archiver.bundle import manifest as manifest_io
from archiver.cli.common import Services, echo_json, pass_services
from archiver.errors import BadInputError, NotFoundError, StoreError, VerificationError
from archiver.store.local import BUNDLE_ID, check_bundle_id

# archiver.bundle.eark.FORMATS + archiver.bundle.registry.FORMATS, spelled here so that listing bundles does not
# load the E-ARK, PDF and timestamp code (a test checks they agree); the commands that need those import them.
EXPORT_FORMATS = ("eark-sip", "registry-json", "registry-csv")


@click.group()
def bundles() -> None:
    """List, download and verify bundles."""


@bundles.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
@pass_services
def list_bundles(services: Services, as_json: bool) -> None:
    """List the bundles in the catalog, oldest first."""
    rows = services.catalog.list_bundles()
    pending = set(services.store.pending()) if hasattr(services.store, "pending") else None
    if pending is not None:
        for row in rows:
            row["upload_pending"] = row["id"] in pending
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no bundles yet")
    for row in rows:
        ok = sum(p["status"] == "ok" for p in row["pages"])
        dnr = ", ".join(r["dnr"] for r in row["registrations"]) or "not registered"
        what = f"post, class {row['post']['class']}" if row["post"] else f"{ok}/{len(row['pages'])} pages"
        click.echo(f"{row['id']}  {row['status']:<8} {what}  {row['reason']}  [{dnr}]")
        click.echo(f"    {row['location']}" + ("  (upload pending; in the local spool)"
                                                  if row.get("upload_pending") else ""))


@bundles.command("get")
@click.argument("bundle_id")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to copy the PDF and manifest into (created if missing).")
@pass_services
def get_bundle(services: Services, bundle_id: str, out_dir: str) -> None:
    """Copy a bundle's PDF and manifest out of the store."""
    check_bundle_id(bundle_id)
    row = services.catalog.get_bundle(bundle_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [row["pdf_name"], manifest_io.MANIFEST_NAME]
    stored = services.store.find(bundle_id)
    from archiver.bundle.timestamp import TOKEN_NAME

    if stored is not None and TOKEN_NAME in stored.files:
        names.append(TOKEN_NAME)
    names += [name for name in (stored.files if stored is not None else ()) if name.endswith(".wacz")]
    for name in names:
        if (out / name).exists():
            raise StoreError(f"{out / name} already exists; not overwriting it")
    for name in names:
        click.echo(services.store.fetch(bundle_id, name, out / name))
    services.catalog.audit(getpass.getuser(), "bundle.downloaded", bundle_id, {"files": names, "to": str(out)})
    damaged = _damaged(row, out)
    for problem in damaged:
        click.echo(f"DAMAGED: {problem}", err=True)
    if damaged:
        raise VerificationError(f"bundle {bundle_id}: copied as stored, but {len(damaged)} file(s) are not what "
                                f"was catalogued; `archiver bundles verify {bundle_id}` says more")


def _damaged(row: dict, out: Path) -> list[str]:
    """The copies whose SHA-256 is not the catalog's, each with what is wrong in words."""
    problems = []
    expected_files = [(row["pdf_name"], row["pdf_sha256"]), (manifest_io.MANIFEST_NAME, row["manifest_sha256"])]
    try:  # the WACZ's hash is in the manifest, whose own hash the catalog holds
        wacz = manifest_io.load_checked(out / manifest_io.MANIFEST_NAME).get("wacz")
    except (OSError, ValueError):
        wacz = None
    if wacz and (out / wacz["file"]).is_file():
        expected_files.append((wacz["file"], wacz["sha256"]))
    for name, expected in expected_files:
        digest = manifest_io.sha256_file(out / name)
        if digest == expected:
            continue
        why = ""
        if name == manifest_io.MANIFEST_NAME:
            try:
                manifest_io.load_checked(out / name)
            except ValueError as exc:
                why = f" ({exc})"
        problems.append(f"{name} has SHA-256 {digest}, the catalog recorded {expected}{why}")
    return problems


@bundles.command("verify")
@click.argument("target", required=False)
@click.option("--all", "every", is_flag=True, help="Verify every bundle the catalog lists instead of one.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@pass_services
def verify(services: Services, target: str | None, every: bool, as_json: bool) -> None:
    """Recompute every hash and validate the PDF/A; TARGET is a bundle id or a bundle folder/PDF (or --all)."""
    if every == (target is not None):
        raise BadInputError("give one bundle id or path, or --all for every bundle in the catalog")
    if every:
        results = [(services.verify(row["id"]), row["id"]) for row in services.catalog.list_bundles()]
    else:
        results = [_verify_one(services, target)]
    for result, catalogued in results:
        if catalogued is not None:
            services.catalog.audit(getpass.getuser(), "bundle.verified", catalogued, {"ok": result.ok})
    if as_json:
        echo_json([r.as_dict() for r, _ in results] if every else results[0][0].as_dict())
    else:
        for result, _ in results:
            for check in result.checks:
                click.echo(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}" + ("" if check.ok else f": {check.detail}"))
            click.echo(f"bundle {result.bundle_id}: {'VERIFIED' if result.ok else 'NOT VERIFIED'}")
        if every and not results:
            click.echo("no bundles yet")
    failed = [result.bundle_id or target for result, _ in results if not result.ok]
    if failed:
        raise VerificationError(f"bundle(s) {', '.join(failed)} failed verification")


def _verify_one(services: Services, target: str):
    from archiver.bundle.verify import verify_bundle

    path = Path(target)
    if BUNDLE_ID.match(target) and not path.exists():
        return services.verify(target), target
    if not path.exists():
        raise NotFoundError(f"{target!r} is neither a bundle id nor a path")
    folder = path if path.is_dir() else path.parent
    manifest_path = folder / manifest_io.MANIFEST_NAME
    if not manifest_path.is_file():
        raise BadInputError(f"{folder}: no {manifest_io.MANIFEST_NAME} here; is this a bundle folder?")
    catalog_row = None
    try:
        bundle_id = manifest_io.load_checked(manifest_path)["bundle_id"]
    except ValueError:
        bundle_id = ""  # verify_bundle says what is wrong with it
    if BUNDLE_ID.match(str(bundle_id)) and services.registry_path.exists():
        catalog_row = services.catalog.find_bundle(bundle_id)
    stamp = services.register.bundle.timestamp if services.registry_path.exists() else None
    result = verify_bundle(folder, catalog_row, timestamp_ca=stamp.ca_file if stamp else None)
    return result, catalog_row["id"] if catalog_row is not None else None


@bundles.command("export")
@click.argument("targets", metavar="TARGET...", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="eark-sip", show_default=True,
              help="eark-sip: an E-ARK SIP (CSIP/SIP 2.x, the basis of FGS Paketstruktur 2.0) per bundle; "
              "registry-json / registry-csv: one record per bundle for the case-management system.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder to write into (created if missing); needed for eark-sip. The registry formats print "
              "to stdout without it, or write registry.json / registry.csv into it.")
@click.option("--json", "as_json", is_flag=True, help="eark-sip: print each package's path, OBJID and file count.")
@pass_services
def export_bundle(services: Services, targets: tuple[str, ...], fmt: str, out_dir: str | None,
                  as_json: bool) -> None:
    """Export bundles; each TARGET is a bundle id or a bundle folder/PDF. Never overwrites."""
    found = [_bundle_folder(services, target) for target in targets]  # every target checked before writing
    if fmt != "eark-sip":
        _export_registry(services, found, fmt, out_dir)
        return
    if out_dir is None:
        raise BadInputError("--out is needed for --format eark-sip: the folder the package is written into")
    from archiver.bundle import eark

    cases = {c["dnr"]: c for c in services.catalog.list_cases()} if any(row for _f, row in found) else None
    results = []
    for folder, catalog_row in found:
        result = eark.build_sip(folder, Path(out_dir), catalog_row=catalog_row, cases=cases)
        if catalog_row is not None:
            services.catalog.audit(getpass.getuser(), "bundle.exported", catalog_row["id"],
                                   {"format": fmt, "to": str(result.path)})
        results.append(result)
        if not as_json:
            click.echo(result.path)
    if as_json:
        echo_json(results[0].as_dict() if len(results) == 1 else [r.as_dict() for r in results])


def _export_registry(services: Services, found: list[tuple[Path, dict | None]], fmt: str, out_dir: str | None) -> None:
    from archiver.bundle import registry
    from archiver.fileio import write_atomic

    records = [record for folder, row in found for record in registry.records(folder, row)]
    text = registry.to_json(records) if fmt == "registry-json" else registry.to_csv(records)
    if out_dir is None:
        click.echo(text, nl=False)
        return
    target = Path(out_dir) / ("registry.json" if fmt == "registry-json" else "registry.csv")
    if target.exists():
        raise BadInputError(f"{target} already exists; not overwriting it")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text.encode("utf-8"))
    for _folder, row in found:
        if row is not None:
            services.catalog.audit(getpass.getuser(), "bundle.exported", row["id"], {"format": fmt, "to": str(target)})
    click.echo(target)


def _bundle_folder(services: Services, target: str) -> tuple[Path, dict | None]:
    """A bundle id (through the catalog and store) or a bundle folder/PDF path → its folder and catalog row."""
    path = Path(target)
    if BUNDLE_ID.match(target) and not path.exists():
        row = services.catalog.get_bundle(target)
        return services.store.path(target, row["pdf_name"]).parent, row
    if not path.exists():
        raise NotFoundError(f"{target!r} is neither a bundle id nor a path")
    folder = path if path.is_dir() else path.parent
    manifest_path = folder / manifest_io.MANIFEST_NAME
    if not manifest_path.is_file():
        raise BadInputError(f"{folder}: no {manifest_io.MANIFEST_NAME} here; is this a bundle folder?")
    try:
        bundle_id = str(manifest_io.load(manifest_path).get("bundle_id", ""))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{manifest_path}: not a readable manifest ({exc})") from exc
    row = None
    if BUNDLE_ID.match(bundle_id) and services.registry_path.exists():
        row = services.catalog.find_bundle(bundle_id)
    return folder, row


@bundles.command("compare")
@click.argument("old_id", metavar="OLD")
@click.argument("new_id", metavar="NEW")
@click.option("--page", "page_id", help="Only this page (its id, or a capture key such as ID.mobile).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for the report (default: reports/ in the store's local folder).")
@click.option("--by", default=None, help="Who asks (for the audit trail; default the user name).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"report", "pages": [{"id", "changed_ratio", "words_added", "words_removed", '
              '"posts_removed", "posts_added", ...}]}.')
@pass_services
def compare_bundles(services: Services, old_id: str, new_id: str, page_id: str | None, out_dir: str | None,
                    by: str | None, as_json: bool) -> None:
    """What changed between two bundles: pixels aligned by content, words, and posts gone or new.

    Both are verified first; a bundle that is not what was stored is refused (exit 1). The report is a
    PDF/A of its own."""
    comparison, report = services.compare(old_id, new_id, page=page_id, out_dir=Path(out_dir) if out_dir else None,
                                          by=by or getpass.getuser())
    if as_json:
        echo_json({"report": str(report), "old": old_id, "new": new_id,
                   "pages": [p.as_dict() for p in comparison.pages],
                   "only_in_old": comparison.only_old, "only_in_new": comparison.only_new})
        return
    for page in comparison.pages:
        if page.unchanged:
            click.echo(f"{page.key}: unchanged")
            continue
        posts = (f"{len(page.posts.removed)} post(s) gone, {len(page.posts.added)} new" if page.posts.available
                 else "posts not compared (the older bundle does not list them)")
        click.echo(f"{page.key}: {100 * page.pixels.changed_ratio:.1f} % of rows changed in "
                   f"{len(page.pixels.regions)} region(s); {len(page.words.added)} word(s) added, "
                   f"{len(page.words.removed)} removed; {posts}")
    click.echo(report)
