"""YouTube channels through the Data API v3, with the channel owner's OAuth 2.0 access token
(`Authorization: Bearer`).

The channel's uploads: `channels.list?part=contentDetails` names its uploads playlist, `playlistItems.list`
lists it (50 a page, `nextPageToken` until there is none), and `videos.list?part=snippet,status` gives
each page's videos (up to 50 ids at once): each video is a "post". Each video's comments:
`commentThreads.list?part=snippet` (100 a page, plain text), and every reply of a thread that has any
through `comments.list?parentId=` (a thread carries only some of its replies). Every list call costs one
unit of the default 10,000 a day.

Errors, as the API's error guide gives them (`{"error": {"code", "message", "errors": [{"reason",
"domain"}]}}`): 401 is a token that does not work; 403 `quotaExceeded` ends the collection (the quota
comes back at midnight Pacific time), `rateLimitExceeded`/`userRateLimitExceeded` are waited out;
`commentsDisabled` and 404 `videoNotFound` leave that video's thread as it was; 5xx is tried again.
"""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlsplit

from archiver.catalog.collected import Seen
from archiver.collect.http import ApiClient, CollectError, Problem
from archiver.collect.raw import list_items, sha256_text
from archiver.collect.run import Attachment

BASE_URL = "https://www.googleapis.com/youtube/v3"
PLAYLIST_PAGE = 50
THREAD_PAGE = 100
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
GONE_REASONS = {"commentsDisabled", "videoNotFound", "notFound"}
QUOTA_WAIT_S = 24 * 3600.0  # more than any collection waits: the next day's collection goes on


def with_path(base_url: str) -> str:
    """ARCHIVER_YOUTUBE_URL replaces https://www.googleapis.com/youtube/v3; given as a bare host
    (http://127.0.0.1:8080), the API's own path is added."""
    base = base_url.rstrip("/")
    return base if urlsplit(base).path not in ("", "/") else f"{base}/youtube/v3"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def classify(status: int, body: dict | None, headers: dict) -> Problem:
    error = (body or {}).get("error") or {}
    reasons = {e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)}
    message = f"YouTube API {status} {'/'.join(sorted(r for r in reasons if r)) or ''}: {error.get('message') or ''}"
    if status == 401:
        return Problem("token", message)
    if "quotaExceeded" in reasons:
        return Problem("rate", message, QUOTA_WAIT_S)
    if reasons & RATE_REASONS or status == 429:
        return Problem("rate", message, 60.0)
    if reasons & GONE_REASONS or status == 404:
        return Problem("gone", message)
    if status >= 500:
        return Problem("retry", message)
    if status == 403:
        return Problem("token", message)  # forbidden: the token lacks the channel's permission
    return Problem("fatal", message)


def _content(*texts) -> str:
    return sha256_text(json.dumps(texts, ensure_ascii=False))


class Collector:
    platform = "youtube"

    def __init__(self, account_id: str, token: str, base_url: str = BASE_URL):
        self.account_id = account_id
        self.client = ApiClient(with_path(base_url), classify, headers={"Authorization": f"Bearer {token}"})

    def _pages(self, path: str, params: dict):
        token = None
        while True:
            response = self.client.get(path, {**params, **({"pageToken": token} if token else {})})
            try:
                whole, items = list_items(response.text, "items")
            except ValueError as exc:
                raise CollectError(f"{path}: not a YouTube list ({exc})") from exc
            yield items
            token = whole.get("nextPageToken")
            if not token:
                return

    def check(self) -> dict:
        found = self.client.get("channels", {"part": "id,snippet", "id": self.account_id}).json().get("items") or []
        if not found:
            raise CollectError(f"channel {self.account_id} was not found with this token")
        return {"name": found[0].get("snippet", {}).get("title"), "account": found[0].get("id")}

    def posts(self, since: datetime | None):
        channel = self.client.get("channels", {"part": "contentDetails", "id": self.account_id}).json()
        try:
            uploads = channel["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
        except (KeyError, IndexError) as exc:
            raise CollectError(f"channel {self.account_id} has no uploads playlist for this token") from exc
        for items in self._pages("playlistItems", {"part": "contentDetails", "playlistId": uploads,
                                                   "maxResults": PLAYLIST_PAGE}):
            listed = [item for _raw, item in items]
            ids = [i["contentDetails"]["videoId"] for i in listed]
            if ids:
                for _page in self._pages("videos", {"part": "snippet,status", "id": ",".join(ids)}):
                    for raw, video in _page:
                        snippet = video.get("snippet") or {}
                        yield Seen("post", video["id"], raw, sha256_text(raw),
                                   _content(snippet.get("title"), snippet.get("description"),
                                            (video.get("status") or {}).get("privacyStatus")),
                                   None, video["id"], parse_time(snippet.get("publishedAt")))
            published = [parse_time((i.get("contentDetails") or {}).get("videoPublishedAt")) for i in listed]
            if since is not None and published and all(p is not None and p < since for p in published):
                return  # the uploads playlist is newest first: the rest is older still

    def comments(self, post: Seen):
        for items in self._pages("commentThreads", {"part": "snippet", "videoId": post.item_id,
                                                    "maxResults": THREAD_PAGE, "textFormat": "plainText"}):
            for raw, thread in items:
                top = ((thread.get("snippet") or {}).get("topLevelComment") or {}).get("snippet") or {}
                yield Seen("comment", thread["id"], raw, sha256_text(raw),
                           _content(top.get("textOriginal"), top.get("textDisplay"), top.get("moderationStatus")),
                           post.item_id, post.item_id, parse_time(top.get("publishedAt")))
                if (thread.get("snippet") or {}).get("totalReplyCount"):
                    for replies in self._pages("comments", {"part": "snippet", "parentId": thread["id"],
                                                            "maxResults": THREAD_PAGE, "textFormat": "plainText"}):
                        for reply_raw, reply in replies:
                            snippet = reply.get("snippet") or {}
                            yield Seen("reply", reply["id"], reply_raw, sha256_text(reply_raw),
                                       _content(snippet.get("textOriginal"), snippet.get("textDisplay"),
                                                snippet.get("moderationStatus")),
                                       thread["id"], post.item_id, parse_time(snippet.get("publishedAt")))

    def attachments(self, seen: Seen) -> list[Attachment]:
        if seen.kind != "post":
            return []
        thumbnails = ((json.loads(seen.raw).get("snippet") or {}).get("thumbnails") or {})
        best = next((thumbnails[k] for k in ("maxres", "standard", "high", "medium", "default") if k in thumbnails),
                    None)
        return [Attachment(f"youtube:thumbnail:{seen.item_id}", best["url"])] if best and best.get("url") else []
