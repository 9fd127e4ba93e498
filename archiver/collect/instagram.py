"""Instagram professional accounts through the Instagram Graph API (Instagram API with Facebook Login,
graph.facebook.com, v26.0), with the connected Page's access token.

The account's media: `/{ig-user-id}/media`, newest first, paged by `next` until it is gone or the media
are older than the collection needs. Each medium's comments: `/{ig-media-id}/comments` (top-level ones),
and each comment's replies: `/{ig-comment-id}/replies` (threads are two levels deep). `hidden` says a
comment was hidden. Errors are the Graph API's, read as for Facebook (archiver/collect/facebook.py).
"""

from __future__ import annotations

import json
from datetime import datetime

from archiver.catalog.collected import Seen
from archiver.collect.facebook import classify, content_sha256, graph_pages, parse_time, versioned
from archiver.collect.http import ApiClient
from archiver.collect.raw import sha256_text
from archiver.collect.run import Attachment

BASE_URL = "https://graph.facebook.com"
MEDIA_FIELDS = ("id,caption,media_type,media_url,permalink,timestamp,username,thumbnail_url,"
                "children{id,media_type,media_url,thumbnail_url}")
COMMENT_FIELDS = "id,text,timestamp,username,from,hidden,parent_id"


class Collector:
    platform = "instagram"
    media_keys = ("caption", "media_type", "permalink", "children", "media_url")
    comment_keys = ("text", "hidden")

    def __init__(self, account_id: str, token: str, base_url: str = BASE_URL):
        self.account_id = account_id
        self.client = ApiClient(versioned(base_url), classify, params={"access_token": token})

    def _pages(self, path: str, params: dict):
        return graph_pages(self.client, path, params)

    def check(self) -> dict:
        account = self.client.get(self.account_id, {"fields": "id,username"}).json()
        return {"name": account.get("username"), "account": account.get("id")}

    def posts(self, since: datetime | None):
        for items in self._pages(f"{self.account_id}/media", {"fields": MEDIA_FIELDS}):
            times = []
            for raw, item in items:
                created = parse_time(item.get("timestamp"))
                times.append(created)
                yield Seen("post", item["id"], raw, sha256_text(raw), content_sha256(item, self.media_keys), None,
                           item["id"], created)
            if since is not None and times and all(t is not None and t < since for t in times):
                return  # newest first: what follows is older still

    def comments(self, post: Seen):
        for items in self._pages(f"{post.item_id}/comments", {"fields": COMMENT_FIELDS}):
            for raw, item in items:
                yield Seen("comment", item["id"], raw, sha256_text(raw), content_sha256(item, self.comment_keys),
                           post.item_id, post.item_id, parse_time(item.get("timestamp")))
                for replies in self._pages(f"{item['id']}/replies", {"fields": COMMENT_FIELDS}):
                    for reply_raw, reply in replies:
                        yield Seen("reply", reply["id"], reply_raw, sha256_text(reply_raw),
                                   content_sha256(reply, self.comment_keys), item["id"], post.item_id,
                                   parse_time(reply.get("timestamp")))

    def attachments(self, seen: Seen) -> list[Attachment]:
        if seen.kind != "post":
            return []
        item = json.loads(seen.raw)
        found = []
        for one in [item, *((item.get("children") or {}).get("data") or [])]:
            url = one.get("media_url") or one.get("thumbnail_url")
            if url:
                found.append(Attachment(f"instagram:{one.get('id') or item['id']}", url))
        return found
