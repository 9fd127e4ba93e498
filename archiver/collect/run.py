"""One collection of one page through its platform's API, as a script of steps: list the posts, read each
post's whole comment thread, keep what is new or changed, download attachments once, and mark removed
what complete listings no longer return.

Which posts are read: on the first collection, every post the API has (paging to the end); after that, the
posts created since the last complete collection and those inside the page's watch window
(`api.watch_days`, default 90), whose comments are read again every time, since that is where comments
are added, edited and removed. A post older than the window keeps its last state.

Only a listing that ran to its end marks anything removed: a collection stopped by an expired token or a
rate limit keeps what it got, marks nothing removed from a listing it did not finish (the posts', or the
thread it was reading), and the next one goes on.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from archiver.catalog.collected import Seen
from archiver.collect.http import CollectError, Gone
from archiver.fileio import write_atomic
from archiver.models import utcnow

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 512 * 1024 * 1024  # one attachment; a longer video is listed, not downloaded
COLLECTED_DIR = "collected"


@dataclass(frozen=True)
class Attachment:
    source_key: str  # the platform's id for the media, else its URL without the signature
    url: str
    media_type: str | None = None


@dataclass
class PageOutcome:
    page_id: str
    platform: str
    ok: bool = True
    failure: str | None = None
    error: str | None = None
    counts: Counter = field(default_factory=Counter)
    removed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"id": self.page_id, "platform": self.platform, "status": "ok" if self.ok else "failed",
                "failure": self.failure, "error": self.error, "removed": self.removed,
                **{k: self.counts.get(k, 0) for k in ("seen", "new", "changed", "back", "files", "requests")}}


def _keep_files(catalog, collector, seen: Seen, root: Path, counts: Counter) -> None:
    """Each attachment of the item downloaded once (by its source key), hashed, kept under collected/."""
    import hashlib

    for attachment in collector.attachments(seen):
        if catalog.collected_file(attachment.source_key) is not None:
            continue
        try:
            data, media_type = collector.client.download(attachment.url, MAX_FILE_BYTES)
        except CollectError as exc:
            log.warning("%s: attachment of %s not downloaded: %s", collector.platform, seen.item_id, exc)
            counts["files_failed"] += 1
            continue
        digest = hashlib.sha256(data).hexdigest()
        rel = f"{COLLECTED_DIR}/{collector.platform}/{digest[:2]}/{digest}"
        target = root / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, data)
        catalog.add_collected_file(source_key=attachment.source_key, item_id=seen.item_id, url=attachment.url,
                                   media_type=attachment.media_type or media_type, bytes=len(data), sha256=digest,
                                   path=rel, fetched_at=utcnow())
        counts["files"] += 1


def _record(catalog, page, collector, seen: Seen, now: datetime, root: Path, counts: Counter) -> None:
    outcome = catalog.record_seen(page.id, collector.platform, seen, now)
    counts["seen"] += 1
    if outcome != "same":
        counts[outcome] += 1
    if outcome in ("new", "changed"):
        _keep_files(catalog, collector, seen, root, counts)


def collect_page(catalog, page, collector, root: Path, now: datetime | None = None) -> PageOutcome:
    """Collect `page` (a register PageEntry with `api:`) through `collector` into the catalog; attachments
    into `root`/collected/. Never raises for the platform's answers: the outcome says what happened."""
    now = now or utcnow()
    outcome = PageOutcome(page.id, collector.platform)
    counts = outcome.counts
    last = catalog.last_collection(page.id)
    window = now - timedelta(days=page.api.watch_days)
    since = None if last is None else min(window, last["started_at"])  # nothing missed between collections
    collection = catalog.start_collection(page.id, collector.platform, now)
    try:
        post_ids: set[str] = set()
        for post in collector.posts(since):
            _record(catalog, page, collector, post, now, root, counts)
            post_ids.add(post.item_id)
            if since is not None and post.created_at is not None and post.created_at < window:
                continue  # listed because it is new since the last collection, but older than the window
            thread: set[str] = set()
            try:
                for comment in collector.comments(post):
                    _record(catalog, page, collector, comment, now, root, counts)
                    thread.add(comment.item_id)
            except Gone:
                log.info("%s: post %s went away while its comments were read", page.id, post.item_id)
                continue  # the posts' listing said it is there: the next collection decides
            outcome.removed += catalog.mark_missing(page.id, collector.platform, kinds=("comment", "reply"),
                                                    parent_id=post.item_id, seen_ids=thread, at=now)
        gone = catalog.mark_missing(page.id, collector.platform, kinds=("post",), seen_ids=post_ids, at=now,
                                    created_since=window if since is not None else None)
        for post_id in gone:  # a post that is gone takes its thread with it
            outcome.removed += catalog.mark_missing(page.id, collector.platform, kinds=("comment", "reply"),
                                                    parent_id=post_id, seen_ids=set(), at=now)
        outcome.removed = gone + outcome.removed
    except CollectError as exc:
        outcome.ok, outcome.failure, outcome.error = False, exc.failure, str(exc)
        log.error("%s: the collection stopped (%s): %s; what it got before is kept, nothing was marked removed "
                  "after it", page.id, exc.failure, exc)
    counts["requests"] = collector.client.requests
    catalog.finish_collection(collection, utcnow(), dict(counts), outcome.failure, outcome.error)
    log.info("%s: collected %d item(s): %d new, %d changed, %d removed, %d file(s)", page.id, counts["seen"],
             counts["new"], counts["changed"], len(outcome.removed), counts["files"])
    return outcome
