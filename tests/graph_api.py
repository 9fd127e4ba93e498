"""A stand-in for the Facebook Graph API on loopback, answering as its documentation shows: the Page's
`published_posts` and each post's `comments` (filter=stream: comments and replies flattened, a reply
naming its `parent`), cursor paging with `paging.cursors` and a `next` link that is absent on the last
page, `since` as a Unix time, the error body `{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}` with HTTP 400, code 190/463 for an expired token, and 80001 with the
`X-Business-Use-Case-Usage` header for a throttled Page. This is the one place a stand-in is right: the
real API cannot run here. Tests change `posts` between collections as a Page's admins and visitors would.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

VERSION = "v26.0"
PAGE_ID = "104857600123456"
IG_USER = "17841400000000001"  # the Instagram professional account connected to the Page


def fb_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class Comment:
    id: str
    message: str
    author: str
    created: datetime
    parent: str | None = None
    is_hidden: bool = False
    photo: str | None = None  # a file name under /media/

    def node(self, base: str, fields: set[str]) -> dict:
        data = {"id": self.id, "created_time": fb_time(self.created), "message": self.message,
                "from": {"id": str(abs(hash(self.author)) % 10**15), "name": self.author},
                "is_hidden": self.is_hidden, "permalink_url": f"https://www.facebook.com/{self.id}"}
        if self.parent:
            data["parent"] = {"id": self.parent}
        if self.photo:
            data["attachment"] = {"media": {"image": {"height": 200, "src": f"{base}/media/{self.photo}?oh=sig",
                                                      "width": 300}},
                                  "target": {"id": f"photo-{self.photo}", "url": "https://www.facebook.com/photo"},
                                  "type": "photo", "url": "https://www.facebook.com/photo"}
        return {k: v for k, v in data.items() if k in fields or k == "id"}


@dataclass
class Post:
    id: str
    message: str
    created: datetime
    comments: list[Comment] = field(default_factory=list)
    photo: str | None = None
    fetches: int = 0  # signed media URLs change on every read, as the CDN's do: not an edit

    def node(self, base: str, fields: set[str]) -> dict:
        data = {"id": self.id, "created_time": fb_time(self.created), "updated_time": fb_time(self.created),
                "message": self.message, "permalink_url": f"https://www.facebook.com/{self.id.replace('_', '/posts/')}",
                "status_type": "added_photos" if self.photo else "mobile_status_update", "is_hidden": False,
                "from": {"id": PAGE_ID, "name": "Götene kommun"}}
        self.fetches += 1
        if self.photo:
            data["attachments"] = {"data": [{
                "media": {"image": {"height": 400, "src": f"{base}/media/{self.photo}?oh={self.fetches:08x}", "width": 600}},
                "target": {"id": f"photo-{self.photo}", "url": "https://www.facebook.com/photo"},
                "type": "photo", "url": "https://www.facebook.com/photo"}]}
        return {k: v for k, v in data.items() if k in fields or k == "id"}


@dataclass
class IgComment:
    id: str
    text: str
    username: str
    timestamp: datetime
    parent: str | None = None
    hidden: bool = False

    def node(self, fields: set[str]) -> dict:
        data = {"id": self.id, "text": self.text, "timestamp": fb_time(self.timestamp), "username": self.username,
                "from": {"id": str(abs(hash(self.username)) % 10**15), "username": self.username},
                "hidden": self.hidden}
        if self.parent:
            data["parent_id"] = self.parent
        return {k: v for k, v in data.items() if k in fields or k == "id"}


@dataclass
class IgMedia:
    id: str
    caption: str
    timestamp: datetime
    image: str  # a file name under /media/
    comments: list[IgComment] = field(default_factory=list)
    fetches: int = 0

    def node(self, base: str, fields: set[str]) -> dict:
        self.fetches += 1
        data = {"id": self.id, "caption": self.caption, "media_type": "IMAGE", "timestamp": fb_time(self.timestamp),
                "media_url": f"{base}/media/{self.image}?_nc_sig={self.fetches:08x}", "username": "gotenekommun",
                "permalink": f"https://www.instagram.com/p/{self.id[-6:]}/"}
        return {k: v for k, v in data.items() if k in fields or k == "id"}


@dataclass
class GraphState:
    token: str = "EAAtesttoken"
    posts: list[Post] = field(default_factory=list)
    ig_media: list[IgMedia] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)
    expire_after: int | None = None  # requests answered before the token expires (mid-collection)
    throttle: list[int] = field(default_factory=list)  # minutes to regain access, one per request throttled
    requests: list[str] = field(default_factory=list)
    page_size_cap: int = 100
    edges: tuple[str, ...] = ("published_posts", "posts")  # the Page edges this server has

    def comments_of(self, post_id: str) -> list[Comment]:
        for post in self.posts:
            if post.id == post_id:
                return post.comments
        raise KeyError(post_id)


def _fields(value: str) -> set[str]:
    """Top-level field names of a `fields=` list (nested `{...}` taken whole)."""
    names, depth, current = set(), 0, ""
    for ch in value:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            names.add(current.strip())
            current = ""
            continue
        if depth == 0 and ch not in "{}":
            current += ch
    if current.strip():
        names.add(current.strip())
    return names


class _Handler(BaseHTTPRequestHandler):
    state: GraphState

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: dict | bytes, headers: dict | None = None, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, message: str, code: int, subcode: int | None = None, kind: str = "OAuthException",
               headers: dict | None = None):
        error = {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEfGhIjK"}
        if subcode is not None:
            error["error_subcode"] = subcode
        self._send(400, {"error": error}, headers)

    def do_GET(self):
        state = self.state
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        base = f"http://{self.headers['Host']}"
        state.requests.append(parts.path)
        if parts.path.startswith("/media/"):
            name = parts.path.rsplit("/", 1)[1]
            if name not in state.media:
                return self._send(404, b"not found", content_type="text/plain")
            return self._send(200, state.media[name], content_type="image/png")
        if query.get("access_token") != state.token or (
                state.expire_after is not None and len(state.requests) > state.expire_after):
            return self._error("Error validating access token: Session has expired on Friday, 04-Dec-26 "
                               "10:00:00 PST. The current time is Friday, 04-Dec-26 11:00:00 PST.", 190, 463)
        if state.throttle:
            minutes = state.throttle.pop(0)
            usage = {PAGE_ID: [{"type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 30,
                                "estimated_time_to_regain_access": minutes}]}
            return self._error("(#80001) There have been too many calls to this Page account. Wait a bit and try "
                               "again.", 80001, headers={"X-Business-Use-Case-Usage": json.dumps(usage)})
        path = parts.path.removeprefix(f"/{VERSION}/").strip("/").split("/")
        fields = _fields(query.get("fields", "id"))
        if path == [PAGE_ID]:
            return self._send(200, {"id": PAGE_ID, "name": "Götene kommun"})
        if path == [IG_USER]:
            return self._send(200, {"id": IG_USER, "username": "gotenekommun"})
        if path == [IG_USER, "media"]:
            media = sorted(state.ig_media, key=lambda m: m.timestamp, reverse=True)
            return self._list([m.node(base, fields) for m in media], parts.path, query)
        ig_comments = {c.id: c for m in state.ig_media for c in m.comments}
        if len(path) == 2 and path[1] == "comments" and path[0] in {m.id for m in state.ig_media}:
            medium = next(m for m in state.ig_media if m.id == path[0])
            top = sorted((c for c in medium.comments if c.parent is None), key=lambda c: c.timestamp)
            return self._list([c.node(fields) for c in top], parts.path, query)
        if len(path) == 2 and path[1] == "replies" and path[0] in ig_comments:
            replies = sorted((c for c in ig_comments.values() if c.parent == path[0]), key=lambda c: c.timestamp)
            return self._list([c.node(fields) for c in replies], parts.path, query)
        if len(path) == 2 and path[0] == PAGE_ID and path[1] in state.edges:
            since = int(query.get("since", 0))
            nodes = [p.node(base, fields) for p in sorted(state.posts, key=lambda p: p.created, reverse=True)
                     if p.created.timestamp() >= since]
            return self._list(nodes, parts.path, query)
        if len(path) == 2 and path[1] == "comments":
            try:
                comments = state.comments_of(path[0])
            except KeyError:
                return self._error(f"Unsupported get request. Object with ID '{path[0]}' does not exist, cannot be "
                                   "loaded due to missing permissions, or does not support this operation.", 100, 33,
                                   "GraphMethodException")
            shown = [c for c in comments if query.get("filter") == "stream" or c.parent is None]
            return self._list([c.node(base, fields) for c in sorted(shown, key=lambda c: c.created)], parts.path, query)
        return self._error("Unknown path components: /" + "/".join(path), 2500)

    def _list(self, nodes: list[dict], path: str, query: dict):
        limit = min(int(query.get("limit", 25)), self.state.page_size_cap)
        start = int(base64.b64decode(query["after"]).decode()) if query.get("after") else 0
        page = nodes[start:start + limit]
        body: dict = {"data": page}
        if page:
            body["paging"] = {"cursors": {"before": base64.b64encode(str(start).encode()).decode(),
                                          "after": base64.b64encode(str(start + len(page)).encode()).decode()}}
            if start + len(page) < len(nodes):
                following = {**query, "after": body["paging"]["cursors"]["after"]}
                body["paging"]["next"] = f"http://{self.headers['Host']}{path}?{urlencode(following)}"
        self._send(200, body)


class GraphApi:
    """The server, started on 127.0.0.1 and stopped by `close`."""

    def __init__(self, state: GraphState | None = None):
        self.state = state or GraphState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
