"""Recording the visit: every response the page's own browser session receives, into the capture's WARC.

The recorder pauses each response in the page's CDP session (Fetch domain, response stage), takes its
body, lets the page have it unchanged, and hands request and response to the capture's WarcFile; this is
how Browsertrix records, and it means the archive holds exactly what the page that was screenshotted
was given. Small bodies are read whole (`Fetch.getResponseBody`); large ones are streamed to a file
(`Fetch.takeResponseBodyAsStream`) and given to the page from it. What cannot be replayed or was not
taken is listed, with why, in the page-info record (`not_recorded`): WebSockets, event streams, bodies
over MAX_RECORD_BYTES, responses still loading when the capture ended.

Frames: Chromium runs with site isolation off (archiver/capture/browser.py), so a cross-site frame's
requests pass through the page's own session too. Service workers are blocked while recording (a
first visit in a fresh context is not controlled by one; what one would fetch for itself would not be
in the page's session).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Error as PlaywrightError

from archiver.capture.warcfile import TRANSFER_HEADERS, Exchange, WarcFile, warc_date
from archiver.models import PageCapture, utcnow

log = logging.getLogger(__name__)

INLINE_MAX_BYTES = 8 * 2**20  # bodies up to this (by Content-Length) are read in one piece
MAX_RECORD_BYTES = 64 * 2**20  # larger bodies are let through unrecorded (and listed): a video's worth
STREAM_CHUNK_BYTES = 2**20
STOP_WAIT_S = 5.0  # how long the end of a capture waits for bodies still being read
STREAMS = ("text/event-stream", "multipart/x-mixed-replace")
NO_BODY_TYPES = frozenset({"EventSource", "WebSocket"})


def header(headers: list[dict], name: str) -> str | None:
    lower = name.lower()
    return next((h["value"] for h in headers if h["name"].lower() == lower), None)


def plan_body(status: int, headers: list[dict], resource_type: str, method: str, *,
              inline_max: int = INLINE_MAX_BYTES, record_max: int = MAX_RECORD_BYTES) -> tuple[str, str | None]:
    """How to take a paused response's body: "none" (it has none), "inline", "stream", or "skip" with why.

    Redirects, 204 and 304 have no body (asking for one fails); an event stream never ends, so waiting
    for its body would hold the page; a body larger than `record_max` is let through unrecorded.
    """
    if method == "HEAD" or status in (204, 304) or 300 <= status < 400:
        return "none", None
    mime = (header(headers, "content-type") or "").split(";")[0].strip().lower()
    if resource_type in NO_BODY_TYPES or mime in STREAMS:
        return "skip", "a stream that does not end (event stream or server push): not replayable"
    length = header(headers, "content-length")
    size = int(length) if length and length.strip().isdigit() else None
    if size is not None and size > record_max:
        return "skip", f"{size:,} bytes, over the {record_max:,}-byte recording limit"
    if size is None and resource_type == "Media":
        return "skip", "media of unknown length (a live stream, perhaps)"
    if size is not None and size > inline_max:
        return "stream", None
    return "inline", None


@dataclass
class Recorder:
    """Records one capture's visit; `start` before navigating, `stop` once the screenshots are taken."""

    warc: WarcFile
    folder: Path  # where streamed bodies wait until written
    inline_max: int | None = None  # None: INLINE_MAX_BYTES, read when used (tests lower it)
    record_max: int | None = None  # None: MAX_RECORD_BYTES
    urls: dict = field(default_factory=dict)  # url -> {"status", "mime", "type"}: the page-info's list
    not_recorded: list = field(default_factory=list)  # {"url", "reason"}
    document: tuple | None = None  # the main frame's last document: (url, response record id, time)
    bytes: int = 0
    responses: int = 0
    _cdp: object = None
    _main_frame: str | None = None  # a page target's id is its main frame's
    _tasks: set = field(default_factory=set)
    _stopping: bool = False

    @property
    def screenshot_path(self) -> Path:
        """Where the whole-page PNG for the screenshot record waits, beside the WARC."""
        return self.warc.path.with_name(self.warc.path.name.split(".")[0] + ".png")

    async def start(self, context, page) -> None:
        self._cdp = await context.new_cdp_session(page)
        self._main_frame = (await self._cdp.send("Target.getTargetInfo"))["targetInfo"]["targetId"]
        self._cdp.on("Fetch.requestPaused", self._paused)
        await self._cdp.send("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Response"}]})
        page.on("requestfailed", self._failed)
        page.on("websocket", lambda ws: self._skip(ws.url, "a WebSocket: a live connection cannot be replayed"))

    def _skip(self, url: str, reason: str) -> None:
        if len(self.not_recorded) < 1000:
            self.not_recorded.append({"url": url, "reason": reason})

    def _failed(self, request) -> None:
        self.urls.setdefault(request.url, {"status": 0, "type": request.resource_type,
                                           "error": request.failure or "failed"})

    def _paused(self, event: dict) -> None:
        task = asyncio.ensure_future(self._handle(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, event: dict) -> None:
        request_id, request = event["requestId"], event["request"]
        url, status = request["url"], event.get("responseStatusCode")
        headers = event.get("responseHeaders") or []
        if status is None or event.get("responseErrorReason"):
            await self._continue(request_id)
            return
        seen_at = utcnow()
        kind, why = plan_body(status, headers, event.get("resourceType", ""), request["method"],
                              inline_max=self.inline_max or INLINE_MAX_BYTES,
                              record_max=self.record_max or MAX_RECORD_BYTES)
        self.urls[url] = {"status": status, "mime": (header(headers, "content-type") or "").split(";")[0],
                          "type": event.get("resourceType", "").lower()}
        try:
            if kind == "inline":
                body = _bytes(await self._cdp.send("Fetch.getResponseBody", {"requestId": request_id}), "body")
                await self._continue(request_id)
            elif kind == "stream":
                body = await self._stream(request_id, status, event)
            else:
                body = b""
                await self._continue(request_id)
                if kind == "skip":
                    self._skip(url, why)
                    return
        except PlaywrightError as exc:
            reason = "the capture ended while it loaded" if self._stopping else str(exc).splitlines()[0]
            self._skip(url, f"body not taken: {reason}")
            await self._continue(request_id)
            return
        record_id = f"<urn:uuid:{uuid.uuid4()}>"
        if event.get("resourceType") == "Document" and event.get("frameId") == self._main_frame and kind != "none":
            self.document = (url, record_id, seen_at)
        self.responses += 1
        self.bytes += len(body) if isinstance(body, bytes) else body.stat().st_size
        self.warc.exchange(Exchange(
            url=url, method=request["method"], request_headers=list(request.get("headers", {}).items()),
            status=status, reason=event.get("responseStatusText", ""),
            response_headers=[(h["name"], h["value"]) for h in headers], body=body,
            request_body=_post_data(request), seen_at=seen_at, record_id=record_id))

    async def _continue(self, request_id: str) -> None:
        try:
            await self._cdp.send("Fetch.continueResponse", {"requestId": request_id})
        except PlaywrightError:  # the page or the request is gone: nothing waits for it any more
            pass

    async def _stream(self, request_id: str, status: int, event: dict) -> Path:
        """A large body, read in pieces to a file, then given to the page whole from there."""
        handle = (await self._cdp.send("Fetch.takeResponseBodyAsStream", {"requestId": request_id}))["stream"]
        path = self.folder / f"body-{uuid.uuid4().hex}"
        try:
            out = await asyncio.to_thread(path.open, "wb")
            try:
                while True:
                    piece = await self._cdp.send("IO.read", {"handle": handle, "size": STREAM_CHUNK_BYTES})
                    await asyncio.to_thread(out.write, _bytes(piece, "data"))
                    if piece.get("eof"):
                        break
            finally:
                out.close()
            await self._cdp.send("IO.close", {"handle": handle})
            kept = [h for h in event.get("responseHeaders") or [] if h["name"].lower() not in TRANSFER_HEADERS]
            kept.append({"name": "Content-Length", "value": str(path.stat().st_size)})
            await self._cdp.send("Fetch.fulfillRequest", {
                "requestId": request_id, "responseCode": status, "responseHeaders": kept,
                "body": base64.b64encode(await asyncio.to_thread(path.read_bytes)).decode("ascii"),
                **({"responsePhrase": event["responseStatusText"]} if event.get("responseStatusText") else {})})
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    async def stop(self) -> None:
        """Stop pausing responses, and give the ones being read STOP_WAIT_S to finish."""
        self._stopping = True
        try:
            await self._cdp.send("Fetch.disable")
        except PlaywrightError:
            pass
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=STOP_WAIT_S)
            for task in late:
                task.cancel()

    async def finish(self, capture: PageCapture) -> None:
        """The page-info and screenshot records, then the WARC closed; what it holds into `capture.recording`."""
        # The document the page was loaded from: what replay opens. The address bar's URL may differ (a
        # script's history.pushState), and the archive holds no response for that one.
        page_url, document_id, document_at = self.document or (
            capture.final_url or capture.requested_url, None, capture.started_at)
        page_info = {"pageid": capture.key, "url": page_url, "ts": warc_date(document_at or utcnow()),
                     "urls": self.urls, "not_recorded": self.not_recorded}
        info_id = f"<urn:uuid:{uuid.uuid4()}>"
        self.warc.resource(f"urn:pageinfo:{page_url}", "application/json",
                           json.dumps(page_info, ensure_ascii=False, indent=1).encode("utf-8"),
                           extra={"WARC-Record-ID": info_id, "WARC-Refers-To-Target-URI": page_url})
        shot_id = None
        if capture.screenshot is not None:
            shot_id = f"<urn:uuid:{uuid.uuid4()}>"
            self.warc.resource(f"urn:fullPage:{page_url}", "image/png", capture.screenshot["path"],
                               extra={"WARC-Record-ID": shot_id, "WARC-Refers-To-Target-URI": page_url,
                                      **({"WARC-Refers-To": document_id} if document_id else {}),
                                      **({"WARC-Refers-To-Date": warc_date(document_at)} if document_at else {})})
        await self.warc.close()
        if capture.screenshot is not None:
            Path(capture.screenshot["path"]).unlink(missing_ok=True)
        capture.recording = {
            "warc_path": self.warc.path, "page_url": page_url, "page_ts": page_info["ts"],
            "page_record": document_id, "pageinfo_record": info_id, "screenshot_record": shot_id,
            "screenshot_sha256": capture.screenshot["sha256"] if capture.screenshot else None,
            "responses": self.responses, "body_bytes": self.bytes, "records": self.warc.records,
            "not_recorded": self.not_recorded,
        }


def _bytes(answer: dict, key: str) -> bytes:
    """A body or a piece of one as CDP gives it: base64, or text when the browser says so."""
    return base64.b64decode(answer[key]) if answer.get("base64Encoded") else answer[key].encode("utf-8")


def _post_data(request: dict) -> bytes:
    entries = request.get("postDataEntries")
    if entries:
        return b"".join(base64.b64decode(e.get("bytes", "")) for e in entries)
    return request.get("postData", "").encode("utf-8")
