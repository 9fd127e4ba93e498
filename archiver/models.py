"""The objects that carry one run and each page's capture through every step."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime | None) -> str | None:
    """UTC, ISO 8601, to the millisecond: what the manifest and XMP carry."""
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_bundle_id(now: datetime, token: str | None = None) -> str:
    """Sortable by time, unique without coordination: 20261124T205846Z-3f9a1c."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{token or secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunRequest:
    """Why and for whom a run is made; `reason` is `scheduled` or `pre-change: ...`."""

    reason: str = "scheduled"
    requested_by: str = "scheduler"
    page_ids: tuple[str, ...] = ()
    capture_keys: tuple[str, ...] = ()  # when set, only these captures ("id" or "id.mobile") of the pages
    completes: str | None = None  # the bundle whose failed pages this run captures again (`--retry-failed`)

    @property
    def kind(self) -> str:
        if self.completes:
            return "retry"
        return "scheduled" if self.reason == "scheduled" else "pre-change" if self.reason.startswith(
            "pre-change") else "manual"


POST_CLASSES = ("decision", "action", "evidence")


@dataclass(frozen=True)
class PostRequest:
    """One post or comment thread to capture (`archiver post`), classified by the records plan.

    decision: leads to a decision, kept and registered; action: leads to an action, may be culled once the
    action is marked done; evidence: criminal material kept for a police report until released.
    """

    url: str
    post_class: str
    reason: str
    requested_by: str
    dnr: str | None = None

    @property
    def kind(self) -> str:
        return "post"


@dataclass
class Tile:
    """One PDF page's image: rows `top`..`top+height` of the capture, PNG bytes as the browser gave them.

    In a run the bytes wait on disk (`path`, in the run's tile spool) rather than in memory, so a run of
    a hundred pages holds no more than a run of one; `png` then is None."""

    index: int
    top: int
    width: int
    height: int
    png: bytes | None
    pixels_sha256: str
    path: Path | None = None


@dataclass
class PageCapture:
    """A page's capture and provenance, filled in by capture and read by bundle, store and catalog."""

    page_id: str
    platform: str
    requested_url: str
    owner: str | None = None
    name: str | None = None
    variant: str = "desktop"  # or "mobile": a phone's viewport and user agent
    status: str = "failed"
    error: str | None = None
    failure: str | None = None  # login_wall, unavailable, session_expired, timeout, http, error, blocked, browser
    final_url: str | None = None
    http_status: int | None = None
    title: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    browser: str | None = None
    user_agent: str | None = None
    viewport: dict = field(default_factory=dict)
    device_scale_factor: float = 1.0
    document_height: int | None = None
    width: int = 0
    height: int = 0
    truncated: bool = False
    tiles: list[Tile] = field(default_factory=list)
    pixels_sha256: str | None = None
    seam_check: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dismissed: list[dict] = field(default_factory=list)
    posts: int | None = None
    scroll: dict = field(default_factory=dict)
    images: dict = field(default_factory=dict)
    session: str | None = None  # which saved login session was used, if any
    words: list = field(default_factory=list)  # [x, y, width, height, text] in page px, for the text layer
    post_list: list = field(default_factory=list)  # [{top, height, permalink, author, time, text}]: compare
    attempts: int = 1  # tries within the run (capture.retries); this record is the last one's
    post: dict | None = None  # a single post's capture: permalink, author and time as shown, what was expanded
    timings: list[dict] = field(default_factory=list)  # the capture script's steps, timed (archiver.profile)
    # The web archive of the visit (capture.recording): the WARC file while the run lasts, and what it holds.
    recording: dict | None = None
    screenshot: dict | None = None  # the whole page as one PNG for the WARC: {"path", "sha256"}

    @property
    def key(self) -> str:
        """Unique within a run: the page id, with ".mobile" for a page's phone capture."""
        return self.page_id if self.variant == "desktop" else f"{self.page_id}.{self.variant}"

    @property
    def label(self) -> str:
        return self.page_id if self.variant == "desktop" else f"{self.page_id} (mobil)"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def provenance(self) -> dict:
        """Everything about the capture except the pixels, as the manifest records it."""
        return {
            "id": self.page_id,
            "key": self.key,
            "platform": self.platform,
            "name": self.name,
            "owner": self.owner,
            "variant": self.variant,
            "status": self.status,
            "error": self.error,
            "failure": self.failure,
            "requested_url": self.requested_url,
            "final_url": self.final_url,
            "http_status": self.http_status,
            "title": self.title,
            "capture_start": iso(self.started_at),
            "capture_end": iso(self.finished_at),
            "browser": self.browser,
            "user_agent": self.user_agent,
            "viewport": self.viewport,
            "device_scale_factor": self.device_scale_factor,
            "document_height_px": self.document_height,
            "width_px": self.width,
            "height_px": self.height,
            "truncated": self.truncated,
            "pixels_sha256": self.pixels_sha256,
            "tiles": [
                {"index": t.index, "top_px": t.top, "width_px": t.width, "height_px": t.height,
                 "pixels_sha256": t.pixels_sha256}
                for t in self.tiles
            ],
            "seam_check": self.seam_check,
            "warnings": self.warnings,
            "dismissed": self.dismissed,
            "posts": self.posts,
            "scroll": self.scroll,
            "images": self.images,
            "session": self.session,
            "attempts": self.attempts,
            "text_layer_words": len(self.words),
            "post_list": self.post_list,
        } | ({"post": self.post} if self.post is not None else {}) \
          | ({"recording": self.recording_summary()} if self.recording and self.ok else {})

    def recording_summary(self) -> dict:
        """Where the visit is in the bundle's WACZ and what was recorded of it (archiver/capture/record.py)."""
        r = self.recording
        return {"warc": f"archive/{Path(r['warc_path']).name}", "page_url": r["page_url"], "page_ts": r["page_ts"],
                "page_record": r["page_record"], "pageinfo_record": r["pageinfo_record"],
                "screenshot_record": r["screenshot_record"], "screenshot_png_sha256": r["screenshot_sha256"],
                "responses": r["responses"], "body_bytes": r["body_bytes"], "records": r["records"],
                "not_recorded": r["not_recorded"]}
