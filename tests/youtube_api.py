"""A stand-in for the YouTube Data API v3 on loopback, answering as its documentation shows:
channels.list (contentDetails.relatedPlaylists.uploads), playlistItems.list, videos.list,
commentThreads.list and comments.list, each `{kind, etag, nextPageToken, pageInfo, items}` with
`nextPageToken` absent on the last page; a 401 for a token that does not work and 403 `quotaExceeded`
(domain youtube.quota) once the day's units are spent, in the `{"error": {"code", "message", "errors":
[{"message", "domain", "reason"}]}}` body.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CHANNEL = "UCgotenekommun00000000001"
UPLOADS = "UUgotenekommun00000000001"


def yt_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class YtComment:
    id: str
    text: str
    author: str
    published: datetime
    parent: str | None = None

    def resource(self) -> dict:
        snippet = {"authorDisplayName": self.author, "authorChannelId": {"value": f"UC{abs(hash(self.author))}"},
                   "channelId": CHANNEL, "textDisplay": self.text, "textOriginal": self.text,
                   "canRate": True, "viewerRating": "none", "likeCount": 0, "moderationStatus": "published",
                   "publishedAt": yt_time(self.published), "updatedAt": yt_time(self.published)}
        if self.parent:
            snippet["parentId"] = self.parent
        return {"kind": "youtube#comment", "etag": f"etag-{self.id}", "id": self.id, "snippet": snippet}


@dataclass
class Video:
    id: str
    title: str
    published: datetime
    comments: list[YtComment] = field(default_factory=list)

    def resource(self, base: str) -> dict:
        return {"kind": "youtube#video", "etag": f"etag-{self.id}", "id": self.id,
                "snippet": {"publishedAt": yt_time(self.published), "channelId": CHANNEL, "title": self.title,
                            "description": f"{self.title} – Götene kommun", "channelTitle": "Götene kommun",
                            "thumbnails": {"high": {"url": f"{base}/vi/{self.id}/hqdefault.jpg", "width": 480,
                                                    "height": 360}}},
                "status": {"privacyStatus": "public"}}


@dataclass
class YouTubeState:
    token: str = "ya29.test-token"
    videos: list[Video] = field(default_factory=list)
    quota: int = 10_000
    requests: list[str] = field(default_factory=list)
    thumbnail: bytes = b""


def _error(code: int, message: str, reason: str, domain: str) -> dict:
    return {"error": {"code": code, "message": message,
                      "errors": [{"message": message, "domain": domain, "reason": reason}]}}


class _Handler(BaseHTTPRequestHandler):
    state: YouTubeState

    def log_message(self, *args):
        pass

    def _send(self, status: int, body, content_type: str = "application/json; charset=UTF-8"):
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _list(self, kind: str, items: list[dict], query: dict, default_size: int, cap: int):
        size = min(int(query.get("maxResults", default_size)), cap)
        start = int(query.get("pageToken", "0") or 0)
        page = items[start:start + size]
        body = {"kind": kind, "etag": f"etag-{start}", "pageInfo": {"totalResults": len(items),
                                                                     "resultsPerPage": size}, "items": page}
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        self._send(200, body)

    def do_GET(self):
        state = self.state
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        state.requests.append(parts.path)
        base = f"http://{self.headers['Host']}"
        if parts.path.startswith("/vi/"):
            return self._send(200, state.thumbnail, "image/jpeg")
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            return self._send(401, _error(401, "Invalid Credentials", "authError", "global"))
        if state.quota <= 0:
            return self._send(403, _error(403, "The request cannot be completed because you have exceeded your "
                                               '<a href="/youtube/v3/getting-started#quota">quota</a>.',
                                          "quotaExceeded", "youtube.quota"))
        state.quota -= 1
        name = parts.path.rsplit("/", 1)[1]
        videos = sorted(state.videos, key=lambda v: v.published, reverse=True)
        if name == "channels":
            item = {"kind": "youtube#channel", "etag": "etag-channel", "id": CHANNEL,
                    "snippet": {"title": "Götene kommun"},
                    "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": UPLOADS}}}
            return self._list("youtube#channelListResponse", [item] if query.get("id") == CHANNEL else [], query, 5, 50)
        if name == "playlistItems":
            items = [{"kind": "youtube#playlistItem", "etag": f"etag-pi-{v.id}", "id": f"pi-{v.id}",
                      "contentDetails": {"videoId": v.id, "videoPublishedAt": yt_time(v.published)}} for v in videos]
            return self._list("youtube#playlistItemListResponse", items, query, 5, 50)
        if name == "videos":
            wanted = query.get("id", "").split(",")
            return self._list("youtube#videoListResponse", [v.resource(base) for v in videos if v.id in wanted],
                              query, 50, 50)
        if name == "commentThreads":
            video = next((v for v in videos if v.id == query.get("videoId")), None)
            if video is None:
                return self._send(404, _error(404, "The video identified by the videoId parameter could not be "
                                                   "found.", "videoNotFound", "youtube.commentThread"))
            threads = []
            for top in sorted((c for c in video.comments if c.parent is None), key=lambda c: c.published, reverse=True):
                replies = [c for c in video.comments if c.parent == top.id]
                threads.append({"kind": "youtube#commentThread", "etag": f"etag-t-{top.id}", "id": top.id,
                                "snippet": {"channelId": CHANNEL, "videoId": video.id, "topLevelComment": top.resource(),
                                            "canReply": True, "totalReplyCount": len(replies), "isPublic": True}})
            return self._list("youtube#commentThreadListResponse", threads, query, 20, 100)
        if name == "comments":
            replies = [c.resource() for v in videos for c in v.comments if c.parent == query.get("parentId")]
            return self._list("youtube#commentListResponse", replies, query, 20, 100)
        return self._send(404, _error(404, "Not Found", "notFound", "global"))


class YouTubeApi:
    def __init__(self, state: YouTubeState | None = None):
        self.state = state or YouTubeState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/youtube/v3"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
