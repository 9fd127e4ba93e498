"""The public "rule 8" list: every social-media service the organisation is on, as HTML and JSON.

SKR's recommendation (rule 8) is that the website lists every social-media service the municipality
is active on. The register already is that list, so it is published from it: `index.html`, an
accessible Swedish page to put on (or link from) the website, and `sociala-medier.json`, the same
list for machines. Only public facts leave the register: platform, account name, address and the
responsible unit; capture, storage and per-page capture settings never do.

The pure functions (`public_pages`, `to_json`, `to_html`) take the dates they print, so they are
deterministic; `write_published` picks the dates and writes both files atomically into one folder.
The HTML depends only on the register and its "senast uppdaterad" date, so publishing an unchanged
register again gives a byte-identical page.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archiver.errors import BadInputError
from archiver.fileio import fsync_dir, write_atomic
from archiver.models import iso, utcnow
from archiver.register.schema import PageEntry, Register

log = logging.getLogger(__name__)

HTML_NAME = "index.html"
JSON_NAME = "sociala-medier.json"
TIME_ZONE = "Europe/Stockholm"

PLATFORM_NAMES = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "x": "X",
    "youtube": "YouTube",
    "linkedin": "LinkedIn",
    "tiktok": "TikTok",
}
# Where the handle is usually written with an @ (TikTok and YouTube URLs already carry it).
_AT_HANDLES = ("x", "instagram")
FILE_MODE = 0o644  # public files a web server must be able to read; the umask still applies

_CSS = """\
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; line-height: 1.5;
       color: #1b1b1b; background: #fff; margin: 0 auto; padding: 1rem; max-width: 60rem; }
a { color: #0b57a4; text-decoration: underline; }
a:visited { color: #5a2d82; }
a:focus-visible { outline: 3px solid #1b1b1b; outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: bold; padding: 0.5rem 0; }
th, td { text-align: left; vertical-align: top; padding: 0.5rem; border-bottom: 1px solid #767676; }
thead th { background: #f2f2f2; }
td, th { overflow-wrap: anywhere; }"""


def _clean(text: str | None) -> str | None:
    """Runs of whitespace (newlines from the YAML included) as one space; blank text as None."""
    if text is None:
        return None
    return " ".join(text.split()) or None


def platform_name(page: PageEntry) -> str:
    """The service's display name; for `generic` pages the site's host without `www.`."""
    if page.platform in PLATFORM_NAMES:
        return PLATFORM_NAMES[page.platform]
    host = (urlsplit(page.url).hostname or page.url).lower()
    return host.removeprefix("www.")


def account_name(page: PageEntry, organisation: str) -> str:
    """The page's `name`, else the account handle from its URL, else the organisation's name."""
    if name := _clean(page.name):
        return name
    segments = [unquote(part) for part in urlsplit(page.url).path.split("/") if part.strip()]
    handle = _clean(segments[-1]) if segments else None
    if not handle or "." in handle:  # e.g. facebook.com/profile.php?id=...: no handle in the path
        return organisation
    if page.platform in _AT_HANDLES and not handle.startswith("@"):
        handle = "@" + handle
    return handle


def link_text(name: str, service: str) -> str:
    """Link text that names both the account and the service, e.g. 'Götene kommun på Facebook'."""
    if service.lower() in name.lower():
        return name
    return f"{name} på {service}"


def public_pages(register: Register) -> list[dict]:
    """The registered pages as the public sees them, in register order; nothing internal."""
    return [
        {
            "id": page.id,
            "platform": page.platform,
            "platform_name": platform_name(page),
            "name": account_name(page, register.organisation),
            "url": page.url,
            "owner": _clean(page.owner),
        }
        for page in register.pages
    ]


def to_json(register: Register, generated: datetime, updated: date) -> dict:
    """The machine-readable list: `generated` is when it was made, `updated` when the register changed."""
    return {
        "organisation": register.organisation,
        "generated": iso(generated),
        "updated": updated.isoformat(),
        "pages": public_pages(register),
    }


def to_html(register: Register, updated: date) -> str:
    """A complete HTML5 page in Swedish: a table of the accounts, no JavaScript, all text escaped."""
    org = escape(register.organisation)
    title = f"Sociala medier – {org}"
    rows = []
    for page in public_pages(register):
        text = escape(link_text(page["name"], page["platform_name"]))
        owner = escape(page["owner"]) if page["owner"] else "Uppgift saknas"
        rows.append(
            "<tr>"
            f'<th scope="row"><a href="{escape(page["url"])}">{text}</a></th>'
            f"<td>{escape(page['platform_name'])}</td>"
            f"<td>{owner}</td>"
            "</tr>"
        )
    day = updated.isoformat()
    intro = f"{org} finns på de sociala medier som står i tabellen. För varje konto står vilken enhet som ansvarar för det."
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="sv">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f'<link rel="alternate" type="application/json" href="{JSON_NAME}">',
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{title}</h1>",
        f"<p>{intro}</p>",
        "<table>",
        "<caption>Konton i sociala medier</caption>",
        "<thead>",
        '<tr><th scope="col">Konto</th><th scope="col">Tjänst</th><th scope="col">Ansvarig enhet</th></tr>',
        "</thead>",
        "<tbody>",
        *rows,
        "</tbody>",
        "</table>",
        f'<p>Senast uppdaterad: <time datetime="{day}">{day}</time></p>',
        f'<p><a href="{JSON_NAME}" type="application/json">Listan som öppna data (JSON)</a></p>',
        "</main>",
        "</body>",
        "</html>",
        "",
    ])


def register_updated(register: Register) -> date:
    """When the register file was last changed (its mtime) as a Swedish calendar date; today if unknown."""
    path = register.source_path
    moment = utcnow()
    if path is not None:
        with contextlib.suppress(OSError):
            moment = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    try:
        return moment.astimezone(ZoneInfo(TIME_ZONE)).date()
    except ZoneInfoNotFoundError:  # no tz database on this machine: the machine's own local date
        return moment.astimezone().date()


@dataclass(frozen=True)
class Published:
    html: Path
    json: Path
    updated: date
    page_ids: tuple[str, ...]


def write_published(register: Register, out_dir: Path, *, generated: datetime | None = None,
                    updated: date | None = None) -> Published:
    """Write `index.html` and `sociala-medier.json` into `out_dir` (created if missing), replacing both.

    Each file is written to a temporary name in `out_dir` and renamed over the old one, so a web server
    never serves half a file. Only those two names in `out_dir` are ever touched: an existing symlink
    there is replaced by the file, not followed.
    """
    out_dir = Path(out_dir)
    generated = generated or utcnow()
    updated = updated or register_updated(register)
    data = to_json(register, generated, updated)
    html = to_html(register, updated)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        json_text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        json_path = write_atomic(out_dir / JSON_NAME, json_text.encode("utf-8"), FILE_MODE)
        html_path = write_atomic(out_dir / HTML_NAME, html.encode("utf-8"), FILE_MODE)
    except OSError as exc:
        where = exc.filename or out_dir
        raise BadInputError(f"cannot publish to {out_dir}: {where}: {exc.strerror or exc}") from None
    fsync_dir(out_dir)
    log.info("published %d page(s) to %s and %s (senast uppdaterad %s)", len(register.pages), html_path,
             json_path, updated.isoformat())
    return Published(html_path, json_path, updated, tuple(page.id for page in register.pages))


