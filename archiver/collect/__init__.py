"""Every post and comment of the organisation's own accounts, through the platforms' official APIs
(`archiver collect`): Facebook Pages (Graph API), Instagram professional accounts (Instagram Graph API)
and YouTube channels (Data API v3).

The steps of one page's collection are in run.py; each platform's API in its own module (facebook.py,
...), which turns the API's answers into `Seen` items and knows its errors. What is kept, and how, is in
archiver/catalog/collected.py. The environment variables ARCHIVER_GRAPH_URL and ARCHIVER_YOUTUBE_URL
replace the APIs' base URLs (the tests point them at a server on loopback).
"""

from __future__ import annotations

import importlib
import logging
import os

from archiver.collect.http import CollectError
from archiver.collect.tokens import read_token
from archiver.errors import BadInputError
from archiver.lock import COLLECT_LOCK_NAME, store_lock

log = logging.getLogger(__name__)


def api_pages(register, page_ids: tuple[str, ...] = ()) -> list:
    """The register's pages with `api:`, or those named (each must have `api:`)."""
    if page_ids:
        pages = register.select(page_ids)
        missing = [p.id for p in pages if p.api is None]
        if missing:
            raise BadInputError(f"page(s) {', '.join(missing)} have no api: entry in the register; "
                                "add api: {id: ..., token_file: ...} to collect them")
        return pages
    pages = [p for p in register.pages if p.api is not None]
    if not pages:
        raise BadInputError("no page in the register has an api: entry; add api: {id: ..., token_file: ...} "
                            "to a facebook, instagram or youtube page to collect it")
    return pages


def make_collector(page, token: str, env=os.environ):
    """The collector for the page's platform, against its real API or the one the environment names."""
    module = importlib.import_module(f"archiver.collect.{page.platform}")
    base = env.get("ARCHIVER_YOUTUBE_URL" if page.platform == "youtube" else "ARCHIVER_GRAPH_URL")
    return module.Collector(page.api.id, token, base or module.BASE_URL)


def collect_pages(services, page_ids: tuple[str, ...] = ()) -> list[dict]:
    """One collection of each page, in register order, under the store's collect lock; every token is read
    (and a token file others can read refused, exit 2) before any request is made."""
    from archiver.collect.run import collect_page

    pages = api_pages(services.register, page_ids)
    tokens = {p.id: read_token(p.api, services.register.source_path) for p in pages}
    with store_lock(services.local_root, COLLECT_LOCK_NAME, "collection"):
        outcomes = [collect_page(services.catalog, page, make_collector(page, tokens[page.id]), services.local_root)
                    for page in pages]
    return [o.as_dict() for o in outcomes]


def check_tokens(services, page_ids: tuple[str, ...] = ()) -> list[dict]:
    """Whether each page's token still works (one cheap request each)."""
    found = []
    for page in api_pages(services.register, page_ids):
        collector = make_collector(page, read_token(page.api, services.register.source_path))
        try:
            found.append({"id": page.id, "platform": page.platform, "ok": True, **collector.check()})
        except CollectError as exc:
            found.append({"id": page.id, "platform": page.platform, "ok": False, "failure": exc.failure,
                          "error": str(exc)})
    return found
