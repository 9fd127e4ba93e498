"""One capture's WARC 1.1 file, written by warcio off the event loop, in order, while the page is captured.

Each record is its own gzip member (what `.warc.gz` readers and CDXJ indexers expect), deflated by ISA-L
at level 1: warcio's own wrapper deflates at zlib level 9, which on a page's images and fonts (already
compressed) costs several times the CPU for a few per cent. The records are warcio's own; only the
deflate around each is ours.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from isal import isal_zlib
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from archiver.capture.serial import Serial

log = logging.getLogger(__name__)

WARC_VERSION = "1.1"
GZIP_LEVEL = 1
# Header values that are secrets of a signed-in session: a registered bundle is a public record, and a
# session cookie in it would let whoever asks for the record sign in as the archiving account.
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
REDACTED = "[removed by the archiver: a session secret]"
# Headers that describe the body as it travelled, not the decoded body Chromium hands over.
TRANSFER_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})


def warc_date(moment: datetime) -> str:
    """WARC 1.1's date: UTC to the microsecond (warcio takes naive UTC times)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return datetime_to_iso_date(moment, use_micros=True)


def redact(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers with the values of SECRET_HEADERS replaced; the names stay, so a reader sees they were sent."""
    return [(name, REDACTED if name.lower() in SECRET_HEADERS else value) for name, value in headers]


def stored_response_headers(headers: Iterable[tuple[str, str]], body_length: int) -> list[tuple[str, str]]:
    """Response headers as they fit the body we have: Chromium hands us the body decoded, so the
    transfer and content encodings no longer apply and the length is the decoded one. The originals are
    kept under X-Archive-Orig- (the prefix replay tools use), so nothing the server said is lost."""
    out = []
    for name, value in headers:
        if name.lower() in TRANSFER_HEADERS:
            out.append((f"X-Archive-Orig-{name}", value))
        else:
            out.append((name, value))
    out.append(("Content-Length", str(body_length)))
    return redact(out)


@dataclass
class Exchange:
    """One request and the response the browser received for it, as the recorder saw them."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    body: bytes | Path  # the decoded body, or a file holding it (a large one, streamed)
    request_body: bytes = b""
    seen_at: datetime | None = None
    truncated: str | None = None  # WARC-Truncated's reason when the body is not whole
    record_id: str | None = None  # the response record's WARC-Record-ID, when the recorder names it


@dataclass
class WarcFile:
    """Writes records in the order given, one at a time on the loop's thread pool (archiver/capture/serial.py);
    made, fed and closed on the event loop. `close()` waits for them and raises the first write that failed."""

    path: Path
    info: dict  # the warcinfo record's fields
    records: int = 0
    _serial: Serial = field(init=False, repr=False, default_factory=Serial)
    _out: BinaryIO = field(init=False, repr=False)
    warcinfo_id: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self._out = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self.warcinfo_id = f"<urn:uuid:{uuid.uuid4()}>"
        self._submit(self._write_warcinfo)

    def _submit(self, work, *args) -> None:
        self._serial.submit(work, *args)

    def _write(self, record) -> None:
        member = _GzipMember(self._out)
        WARCWriter(member, gzip=False, warc_version=WARC_VERSION).write_record(record)
        member.close()
        self.records += 1

    def _writer(self) -> WARCWriter:
        return WARCWriter(io.BytesIO(), gzip=False, warc_version=WARC_VERSION)

    def _write_warcinfo(self) -> None:
        record = self._writer().create_warcinfo_record(self.path.name, self.info)
        record.rec_headers.replace_header("WARC-Record-ID", self.warcinfo_id)
        self._write(record)

    def _headers(self, moment: datetime | None, extra: dict | None = None) -> dict:
        return {"WARC-Warcinfo-ID": self.warcinfo_id, **({"WARC-Date": warc_date(moment)} if moment else {}),
                **(extra or {})}

    def exchange(self, exchange: Exchange) -> None:
        self._submit(self._write_exchange, exchange)

    def _write_exchange(self, exchange: Exchange) -> None:
        writer = self._writer()
        body = exchange.body if isinstance(exchange.body, bytes) else None
        length = len(body) if body is not None else exchange.body.stat().st_size
        extra = ({"WARC-Truncated": exchange.truncated} if exchange.truncated else {}) | (
            {"WARC-Record-ID": exchange.record_id} if exchange.record_id else {})
        with (io.BytesIO(body) if body is not None else open(exchange.body, "rb")) as payload:
            response = writer.create_warc_record(  # with its length given, warcio reads the body in place
                exchange.url, "response", payload=payload, length=length,
                warc_headers_dict=self._headers(exchange.seen_at, extra),
                http_headers=StatusAndHeaders(f"{exchange.status} {exchange.reason}".strip(),
                                              stored_response_headers(exchange.response_headers, length),
                                              protocol="HTTP/1.1"))
            self._write(response)
        parts = urlsplit(exchange.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = writer.create_warc_record(
            exchange.url, "request", payload=io.BytesIO(exchange.request_body), length=len(exchange.request_body),
            warc_headers_dict=self._headers(exchange.seen_at, {
                "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")}),
            http_headers=StatusAndHeaders(f"{exchange.method} {target} HTTP/1.1", redact(exchange.request_headers),
                                          is_http_request=True))
        self._write(request)
        if not isinstance(exchange.body, bytes):
            exchange.body.unlink(missing_ok=True)

    def resource(self, uri: str, content_type: str, data: bytes | Path, moment: datetime | None = None,
                 extra: dict | None = None) -> None:
        """A resource record (the screenshot, the page-info) in this capture's WARC."""
        self._submit(self._write_resource, uri, content_type, data, moment, extra)

    def _write_resource(self, uri, content_type, data, moment, extra) -> None:
        length = len(data) if isinstance(data, bytes) else Path(data).stat().st_size
        with (io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb")) as payload:
            record = self._writer().create_warc_record(uri, "resource", payload=payload, length=length,
                                                       warc_content_type=content_type,
                                                       warc_headers_dict=self._headers(moment, extra))
            self._write(record)

    async def close(self) -> None:
        """Wait for every record, then close the file; a write that failed (a full disk) raises here."""
        try:
            await self._serial.drain()
        finally:
            self._out.close()

    async def abandon(self) -> None:
        """A capture that failed: its recording is not kept."""
        self._serial.cancel()
        await self._serial.drain(check=False)
        self._out.close()
        self.path.unlink(missing_ok=True)


class _GzipMember:
    """What warcio writes one record into: one gzip member of the file."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, 31)

    def write(self, data: bytes) -> int:
        self._out.write(self._compressor.compress(data))
        return len(data)

    def flush(self) -> None:
        """warcio flushes after each record; the member is finished by close()."""

    def close(self) -> None:
        self._out.write(self._compressor.flush())
