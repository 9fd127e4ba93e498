"""Facebook Pages through the Graph API (pinned: v26.0), with a Page access token.

The Page's own posts: `/{page-id}/published_posts` (`/feed` would add visitors' and tagged posts), time
bounded by `since`, 100 a page, paging by the `next` link until there is none (a short or even empty page
may still have one). Each post's whole thread: `/{post-id}/comments?filter=stream`, which gives every
comment and reply flattened (a reply names its `parent`), hidden ones included for the Page's token
(`is_hidden`). Errors, as the Graph API's error-handling guide gives them: code 190 (and 102, 10, 200–299)
is a token that does not work; 4, 17, 32, 613 and the Pages business-use-case codes 80001–80014 are
rate limits, waited out as long as `X-Business-Use-Case-Usage` (or `X-App-Usage`) says; 100 with subcode
33 is an object that is no longer there; 1, 2 and HTTP 5xx are tried again.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from archiver.catalog.collected import Seen
from archiver.collect.http import ApiClient, CollectError, NetworkError, Problem, RateLimited, TokenError
from archiver.collect.raw import list_items, sha256_text
from archiver.collect.run import Attachment

log = logging.getLogger(__name__)

BASE_URL = "https://graph.facebook.com"
VERSION = "v26.0"
PAGE_SIZE = 100
POST_FIELDS = ("id,created_time,updated_time,message,permalink_url,status_type,is_hidden,from,"
               "attachments{type,url,media,target,subattachments}")
COMMENT_FIELDS = "id,created_time,message,from,parent{id},is_hidden,permalink_url,attachment"
TOKEN_CODES = {102, 190, 10} | set(range(200, 300))
RATE_CODES = {4, 17, 32, 613} | set(range(80001, 80015))
RETRY_CODES = {1, 2}
DEFAULT_WAIT_S = 60.0


def versioned(base_url: str) -> str:
    """The API's base with the pinned version, unless the URL given (ARCHIVER_GRAPH_URL) names one already."""
    base = base_url.rstrip("/")
    return base if re.search(r"/v\d+\.\d+$", base) else f"{base}/{VERSION}"


def parse_time(value: str | None) -> datetime | None:
    """'2019-05-17T16:24:04+0000' as the Graph API writes times."""
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")


def _usage_wait_s(headers: dict) -> float:
    """How long the usage headers say to wait: the largest `estimated_time_to_regain_access` (minutes) of
    X-Business-Use-Case-Usage; 0 when they say nothing."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        usage = json.loads(lowered.get("x-business-use-case-usage") or "{}")
    except ValueError:
        return 0.0
    minutes = [entry.get("estimated_time_to_regain_access") or 0 for entries in usage.values()
               if isinstance(entries, list) for entry in entries if isinstance(entry, dict)]
    return 60.0 * max(minutes, default=0)


def classify(status: int, body: dict | None, headers: dict) -> Problem:
    error = (body or {}).get("error") or {}
    code, subcode = error.get("code"), error.get("error_subcode")
    message = f"Graph API error {code}" + (f"/{subcode}" if subcode else "") + f": {error.get('message') or status}"
    if code in TOKEN_CODES or (error.get("type") == "OAuthException" and code is None):
        return Problem("token", message)
    if code in RATE_CODES or status == 429:
        return Problem("rate", message, _usage_wait_s(headers) or DEFAULT_WAIT_S)
    if code == 100 and subcode == 33:
        return Problem("gone", message)
    if code in RETRY_CODES or status >= 500 or error.get("is_transient"):
        return Problem("retry", message)
    return Problem("fatal", message)


def _steady(value):
    """`value` with every URL's query dropped: media URLs are signed anew on every read."""
    if isinstance(value, dict):
        return {k: _unsigned(v) if isinstance(v, str) and v.startswith("http") else _steady(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    return value


def content_sha256(item: dict, keys: tuple[str, ...]) -> str:
    """The SHA-256 of what a person reads in an item (its text, media, whether hidden): not its counts, not
    its media URLs' signatures."""
    return sha256_text(json.dumps(_steady({k: item.get(k) for k in keys}), sort_keys=True, ensure_ascii=False))


def _unsigned(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def graph_pages(client: ApiClient, path: str, params: dict):
    """An edge's items, a page at a time (each item as (raw JSON text, item)), following `next` until a
    page has none: a short or empty page may still have one."""
    response = client.get(path, {**params, "limit": PAGE_SIZE})
    while True:
        try:
            whole, items = list_items(response.text, "data")
        except ValueError as exc:
            raise CollectError(f"{path}: not a Graph API list ({exc})") from exc
        yield items
        following = (whole.get("paging") or {}).get("next")
        if not following:
            return
        response = client.get(following)


class Collector:
    platform = "facebook"
    post_keys = ("message", "attachments", "is_hidden", "status_type", "permalink_url")
    comment_keys = ("message", "attachment", "is_hidden")

    def __init__(self, account_id: str, token: str, base_url: str = BASE_URL):
        self.account_id = account_id
        self.client = ApiClient(versioned(base_url), classify, params={"access_token": token})

    def _pages(self, path: str, params: dict):
        for items in graph_pages(self.client, path, params):
            yield from items

    def check(self) -> dict:
        page = self.client.get(self.account_id, {"fields": "id,name"}).json()
        return {"name": page.get("name"), "account": page.get("id")}

    def posts(self, since: datetime | None):
        params = {"fields": POST_FIELDS}
        if since is not None:
            params["since"] = int(since.timestamp())
        pages = self._pages(f"{self.account_id}/published_posts", params)
        try:
            first = next(pages, None)
        except (TokenError, RateLimited, NetworkError):
            raise
        except CollectError as exc:  # an API without this edge (as older versions were): the Page's /posts
            log.info("%s: published_posts refused (%s); reading /posts instead", self.account_id, exc)
            pages = self._pages(f"{self.account_id}/posts", params)
            first = next(pages, None)
        for raw, item in itertools.chain([first] if first is not None else [], pages):
            yield Seen("post", item["id"], raw, sha256_text(raw), content_sha256(item, self.post_keys),
                       None, item["id"], parse_time(item.get("created_time")))

    def comments(self, post: Seen):
        params = {"fields": COMMENT_FIELDS, "filter": "stream", "order": "chronological"}
        for raw, item in self._pages(f"{post.item_id}/comments", params):
            parent = (item.get("parent") or {}).get("id")
            yield Seen("reply" if parent else "comment", item["id"], raw, sha256_text(raw),
                       content_sha256(item, self.comment_keys), parent or post.item_id, post.item_id,
                       parse_time(item.get("created_time")))

    def attachments(self, seen: Seen) -> list[Attachment]:
        item = json.loads(seen.raw)
        found = []
        blocks = (item.get("attachments") or {}).get("data") or ([item["attachment"]] if item.get("attachment") else [])
        for block in blocks:
            for one in [block, *((block.get("subattachments") or {}).get("data") or [])]:
                src = ((one.get("media") or {}).get("image") or {}).get("src")
                if src:
                    key = (one.get("target") or {}).get("id") or _unsigned(src)
                    found.append(Attachment(f"facebook:{key}", src))
        return found
