"""A local HTTP server for the demo site and for test fixtures (hanging pages, error codes, tall pages).

It lets `make run` show the whole pipeline offline and lets tests exercise the browser against pages
whose every pixel is known in advance, without touching the internet.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

Handler = Callable[[SimpleHTTPRequestHandler], None]

BAND_PX = 10
HEADER_PX = 60
HEADER_RGB = (200, 0, 0)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.stopping = threading.Event()  # tells `hang` handlers to give up so shutdown is prompt
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def handle_error(self, request, client_address) -> None:
        """Clients that hang up (timeouts in tests) are expected; keep them off stderr."""
        log.debug("request from %s failed", client_address, exc_info=sys.exc_info())


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s - " + format, self.address_string(), *args)

    def guess_type(self, path: str | Path) -> str:
        """Declare UTF-8 so Swedish text never depends on the browser's guess."""
        kind = super().guess_type(path)
        if kind.startswith("text/") or kind in ("image/svg+xml", "application/javascript"):
            kind += "; charset=utf-8"
        return kind

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _route(self) -> bool:
        handler = self.server.routes.get(urlsplit(self.path).path)
        if handler is None:
            return False
        handler(self)
        return True

    def do_GET(self) -> None:
        if not self._route():
            super().do_GET()

    def do_HEAD(self) -> None:
        if not self._route():
            super().do_HEAD()


def send_html(req: SimpleHTTPRequestHandler, code: int, body: str) -> None:
    """Answer with an HTML body; HEAD gets the same headers and no body."""
    data = body.encode("utf-8")
    req.send_response(code)
    req.send_header("Content-Type", "text/html; charset=utf-8")
    req.send_header("Content-Length", str(len(data)))
    req.end_headers()
    if req.command != "HEAD":
        req.wfile.write(data)


@contextmanager
def serve_directory(
    root: Path, *, host: str = "127.0.0.1", routes: dict[str, Handler] | None = None
) -> Iterator[str]:
    """Serve `root` (plus `routes`, path -> handler) on a free port of `host`; yields the base URL."""
    handler = partial(_Handler, directory=str(Path(root).resolve()))
    server = _Server((host, 0), handler, dict(routes or {}))
    bound_host, port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="demo-http", daemon=True
    )
    thread.start()
    base_url = f"http://{shown}:{port}"
    log.debug("serving %s at %s", root, base_url)
    try:
        yield base_url
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def hang(req: SimpleHTTPRequestHandler) -> None:
    """Never answer, so tests can check that captures give up; ends once the server is stopping."""
    stopping: threading.Event = req.server.stopping  # type: ignore[attr-defined]
    while not stopping.wait(0.1):
        pass
    req.close_connection = True


def status(code: int) -> Handler:
    """A handler answering HTTP status `code` with a small HTML page, to test failed captures."""
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Status"

    def handler(req: SimpleHTTPRequestHandler) -> None:
        send_html(
            req,
            code,
            f'<!doctype html><html lang="sv"><meta charset="utf-8"><title>{code} {phrase}</title>'
            f"<h1>{code} {phrase}</h1></html>",
        )

    return handler


def expected_row_colour(y: int) -> tuple[int, int, int]:
    """The RGB colour of every pixel in row `y` (page coordinates, 0 = top) of a `tall_page`.

    Rows 0-59 are the fixed header, (200, 0, 0): it overlaps the top of the page and a correct capture
    shows it there once only. Below it the page is bands of 10 px: row y lies in band i = y // 10,
    coloured ((i * 37) % 256, (i * 11) % 256, (i // 256 * 53) % 256). The last band is cut short when
    the page height is not a multiple of 10. Every row of a band, and every column, has that colour.
    """
    if y < 0:
        raise ValueError(f"row must be >= 0 (got {y})")
    if y < HEADER_PX:
        return HEADER_RGB
    return _band_rgb(y // BAND_PX)


def _band_rgb(i: int) -> tuple[int, int, int]:
    return (i * 37) % 256, (i * 11) % 256, (i // 256 * 53) % 256


def tall_page_html(height_px: int, width_px: int = 1280) -> str:
    """The HTML of a page exactly `height_px` tall whose pixels follow `expected_row_colour`."""
    if height_px < 1 or width_px < 1:
        raise ValueError("page height and width must be at least 1 px")
    bands = []
    for top in range(0, height_px, BAND_PX):
        r, g, b = _band_rgb(top // BAND_PX)
        size = min(BAND_PX, height_px - top)
        extra = "" if size == BAND_PX else f";height:{size}px"
        bands.append(f'<i style="background:#{r:02x}{g:02x}{b:02x}{extra}"></i>')
    return (
        '<!doctype html><html lang="sv"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width={width_px}"><title>Hög testsida {height_px} px</title><style>'
        "html{scrollbar-width:none;background:#fff}html::-webkit-scrollbar{display:none}"
        f"body{{margin:0;padding:0;width:{width_px}px;height:{height_px}px;overflow-x:hidden}}"
        f"i{{display:block;width:{width_px}px;height:{BAND_PX}px}}"
        f"header{{position:fixed;top:0;left:0;width:{width_px}px;height:{HEADER_PX}px;"
        f"background:rgb{HEADER_RGB};z-index:10}}"
        "</style></head><body><header></header>" + "".join(bands) + "</body></html>"
    )


def tall_page(height_px: int, width_px: int = 1280) -> Handler:
    """A handler serving `tall_page_html`, for testing tiling, seams and the fixed-header rule."""
    body = tall_page_html(height_px, width_px)

    def handler(req: SimpleHTTPRequestHandler) -> None:
        send_html(req, 200, body)

    return handler
