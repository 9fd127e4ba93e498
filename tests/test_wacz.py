"""The web archive (WACZ) recorded in the same visit as the screenshots: what it holds, that it replays,
that its screenshot record is the PDF's pixels, and that a changed byte fails verification."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import FIXTURES, free_port, register_yaml
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from archiver import pipeline
from archiver.bundle import manifest as manifest_io
from archiver.bundle.verify import verify_bundle
from archiver.capture import record
from archiver.capture.record import plan_body
from archiver.capture.tiles import PngStream, encode_png_parts, stack
from archiver.capture.warcfile import REDACTED, stored_response_headers
from archiver.catalog import Catalog, catalog_url_for
from archiver.demo.server import serve_directory
from archiver.models import RunRequest
from archiver.register import load_register
from archiver.store import LocalStore

STYLE_CSS = b"h1 { color: rgb(0, 90, 160); }\n" + b"/* padding so gzip matters */\n" * 200
BIG_AT = (700, 40)  # where page.html puts big.png, in page px
STREAM_ABOVE = 64 * 1024  # the tests' INLINE_MAX_BYTES: big.png (about 230 KB) is streamed


def png_bytes(width: int, height: int, seed: int) -> bytes:
    noise = random.Random(seed).randbytes(width * height * 3)  # incompressible: the PNG is as big as its pixels
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), noise).save(out, format="PNG")
    return out.getvalue()


BIG_PNG = png_bytes(320, 240, 15)
NEW_PNG = png_bytes(40, 40, 16)


def _send(req, body: bytes, content_type: str, extra: dict | None = None, code: int = 200) -> None:
    req.send_response(code)
    req.send_header("Content-Type", content_type)
    for name, value in (extra or {}).items():
        req.send_header(name, value)
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


def _events(req) -> None:
    """An event stream that sends one event and then stays open, as a live feed does."""
    req.send_response(200)
    req.send_header("Content-Type", "text/event-stream")
    req.end_headers()
    req.wfile.write(b"data: hej\n\n")
    req.wfile.flush()
    while not req.server.stopping.wait(0.1):
        pass


ROUTES = {
    "/recorded/style.css": lambda req: _send(req, gzip.compress(STYLE_CSS), "text/css",
                                             {"Content-Encoding": "gzip", "Set-Cookie": "sid=hemligt; Path=/"}),
    "/recorded/big.png": lambda req: _send(req, BIG_PNG, "image/png"),
    "/recorded/old.png": lambda req: _send(req, b"", "text/plain", {"Location": "/recorded/new.png"}, code=302),
    "/recorded/new.png": lambda req: _send(req, NEW_PNG, "image/png"),
    "/recorded/events": _events,
}


# --- pure helpers, no browser ---

@pytest.mark.parametrize(("status", "headers", "kind", "method", "expected"), [
    (302, [{"name": "Location", "value": "/x"}], "Document", "GET", "none"),
    (204, [], "XHR", "GET", "none"),
    (200, [{"name": "Content-Length", "value": "10"}], "Image", "HEAD", "none"),
    (200, [{"name": "Content-Type", "value": "text/event-stream"}], "Fetch", "GET", "skip"),
    (200, [], "EventSource", "GET", "skip"),
    (200, [{"name": "content-length", "value": str(100 * 2**20)}], "Media", "GET", "skip"),
    (200, [], "Media", "GET", "skip"),
    (200, [{"name": "Content-Length", "value": str(9 * 2**20)}], "Image", "GET", "stream"),
    (206, [{"name": "Content-Length", "value": "5000"}], "Media", "GET", "inline"),
    (200, [], "Script", "GET", "inline"),
])
def test_plan_body_takes_each_body_the_way_it_can_be_had(status, headers, kind, method, expected):
    assert plan_body(status, headers, kind, method)[0] == expected


def test_stored_headers_fit_the_decoded_body_and_hide_session_secrets():
    stored = stored_response_headers([("Content-Encoding", "gzip"), ("Content-Length", "120"),
                                      ("Transfer-Encoding", "chunked"), ("Set-Cookie", "sid=abc"),
                                      ("Content-Type", "text/css")], 5000)
    assert ("X-Archive-Orig-Content-Encoding", "gzip") in stored and ("Content-Length", "5000") in stored
    assert not any(name.lower() in ("content-encoding", "transfer-encoding") for name, _ in stored)
    assert ("Set-Cookie", REDACTED) in stored and ("Content-Type", "text/css") in stored


def test_the_page_png_is_made_of_the_tiles_deflate_data_and_decodes_to_their_pixels(tmp_path):
    """PngStream joins the tiles' own deflate data (no second deflate); a tile kept as the browser's PNG is
    encoded from its pixels. The result is one PNG whose pixels are the tiles' stacked."""
    tiles = [Image.frombytes("RGB", (33, h), random.Random(h).randbytes(33 * h * 3)) for h in (20, 7, 1, 15)]
    stream = PngStream(tmp_path / "p.png", 33, 43)
    stream.add(tiles[0].tobytes(), 20)  # as a tile the browser's PNG was kept for
    for tile in tiles[1:]:
        stream.add_parts(encode_png_parts(tile), tile.height)
    assert stream.close() == hashlib.sha256((tmp_path / "p.png").read_bytes()).hexdigest()
    assert Image.open(tmp_path / "p.png").convert("RGB").tobytes() == stack(tiles).tobytes()
    for tile in tiles:  # each tile's own PNG still stands alone
        assert Image.open(io.BytesIO(encode_png_parts(tile).png)).convert("RGB").tobytes() == tile.tobytes()
    one = PngStream(tmp_path / "one.png", 33, 20)  # a page of one tile: the tile's PNG is the page's
    one.whole(encode_png_parts(tiles[0]).png, 20)
    assert one.close() == hashlib.sha256(encode_png_parts(tiles[0]).png).hexdigest()
    assert Image.open(tmp_path / "one.png").convert("RGB").tobytes() == tiles[0].tobytes()
    short = PngStream(tmp_path / "q.png", 33, 43)
    short.add_parts(encode_png_parts(tiles[0]), 20)
    with pytest.raises(ValueError, match="20 rows written for a 43 px image"):
        short.close()


def test_serial_work_runs_in_order_and_its_first_failure_is_raised_at_the_end():
    """What a WARC's writes rely on: in order, one at a time, and a full disk not lost among them."""
    import asyncio

    from archiver.capture.serial import Serial

    async def run():
        serial, done, busy = Serial(), [], []

        def work(i):
            busy.append(i)
            assert len(busy) == 1, busy  # never two at once
            time.sleep(0.01)
            done.append(i)
            busy.remove(i)
            if i in (2, 4):
                raise OSError(f"disk full at {i}")

        for i in range(6):
            serial.submit(work, i)
        with pytest.raises(OSError, match="disk full at 2"):
            await serial.drain()
        await serial.drain(check=False)  # what abandoning a recording does: no raise
        return done

    assert asyncio.run(run()) == [0, 1, 2, 3, 4, 5]


# --- a recorded run of a fixture page ---

def run_bundle(tmp: Path, site: str, browser_choice, wacz: bool = True):
    registry = tmp / "pages.yaml"
    registry.write_text(register_yaml([{"id": "badplatser", "url": f"{site}/recorded/page.html"}], tmp / "store",
                                      wacz=wacz), encoding="utf-8")
    store = LocalStore(tmp / "store")
    catalog = Catalog(catalog_url_for(store.root))
    result = pipeline.run(load_register(registry), RunRequest(), store=store, catalog=catalog,
                          browser=browser_choice)
    return result, catalog


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, browser_choice):
    with serve_directory(FIXTURES, routes=ROUTES) as site, pytest.MonkeyPatch.context() as patch:
        patch.setattr(record, "INLINE_MAX_BYTES", STREAM_ABOVE)
        result, catalog = run_bundle(tmp_path_factory.mktemp("wacz"), site, browser_choice)
    assert result.captures[0].ok, result.captures[0].error
    manifest = manifest_io.load(Path(result.manifest))
    return result, catalog, manifest, site


def warc_records(wacz: Path) -> list[tuple[dict, dict | None, bytes]]:
    """(WARC headers, HTTP headers, body) of every record of every WARC in the WACZ."""
    out = []
    with zipfile.ZipFile(wacz) as archive:
        for name in archive.namelist():
            if name.startswith("archive/"):
                for rec in ArchiveIterator(io.BytesIO(archive.read(name))):
                    http = dict(rec.http_headers.headers) if rec.http_headers else None
                    out.append((dict(rec.rec_headers.headers), http, rec.content_stream().read()))
    return out




@pytest.mark.browser
def test_py_wacz_validates_the_bundles_wacz(recorded):
    result, *_ = recorded
    wacz = Path(result.wacz["path"])
    assert wacz.parent == Path(result.location) and wacz.name == f"{result.bundle_id}.wacz"
    done = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(wacz)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0 and "Validation succeeded" in done.stdout, done.stdout + done.stderr
    with zipfile.ZipFile(wacz) as archive:
        package = json.loads(archive.read("datapackage.json"))
        assert package["wacz_version"] == "1.1.1"
        stored = {i.filename: i.compress_type for i in archive.infolist()}
        pages = [json.loads(line) for line in archive.read("pages/pages.jsonl").splitlines()]
    assert all(stored[name] == zipfile.ZIP_STORED for name in stored if name.endswith(".gz"))
    assert pages[0]["format"] == "json-pages-1.0"
    assert [(p["id"], p["title"]) for p in pages[1:]] == [("badplatser", "Inspelad sida – badplatser")]
    # The cover says the web archive is there and what it is for.
    cover = subprocess.run(["pdftotext", "-f", "1", "-l", "1", result.pdf, "-"], capture_output=True, text=True,
                           check=True).stdout
    assert "Webbarkivet (WACZ) av samma besök" in cover and f"{result.bundle_id}.wacz" in cover


@pytest.mark.browser
def test_the_index_finds_every_url_the_page_loaded(recorded):
    result, _, manifest, site = recorded
    frame_site = site.replace("127.0.0.1", "localhost")
    with zipfile.ZipFile(result.wacz["path"]) as archive:
        lines = gzip.decompress(archive.read("indexes/index.cdx.gz")).decode().splitlines()
    indexed = {json.loads(line.split(" ", 2)[2])["url"] for line in lines}
    expected = {f"{site}/recorded/{name}" for name in ("page.html", "style.css", "data.json", "big.png", "old.png",
                                                       "new.png")} | {f"{frame_site}/recorded/frame.html",
                                                                      f"{frame_site}/recorded/frame.css"}
    assert expected <= indexed, expected - indexed
    # The page's script changed the address bar (history.replaceState); replay opens the document it was
    # loaded from, which the archive holds.
    page = manifest["pages"][0]
    assert page["final_url"] == f"{site}/recorded/page.html?flik=inlagg"
    assert page["recording"]["page_url"] == f"{site}/recorded/page.html"
    with zipfile.ZipFile(result.wacz["path"]) as archive:
        listed = [json.loads(line)["url"] for line in archive.read("pages/pages.jsonl").splitlines()[1:]]
    assert listed == [page["recording"]["page_url"]]
    page_info = next(json.loads(body) for headers, _, body in warc_records(Path(result.wacz["path"]))
                     if headers.get("WARC-Target-URI", "").startswith("urn:pageinfo:"))
    assert page_info["urls"][f"{site}/recorded/old.png"]["status"] == 302
    assert all(page_info["urls"][url]["status"] == 200 for url in expected - {f"{site}/recorded/old.png"})
    assert [n["url"] for n in page_info["not_recorded"]] == [f"{site}/recorded/events"]
    assert "stream" in page_info["not_recorded"][0]["reason"]
    assert manifest["pages"][0]["recording"]["not_recorded"] == page_info["not_recorded"]


@pytest.mark.browser
def test_bodies_are_what_the_server_sent_and_the_page_still_got_them(recorded):
    result, _, manifest, site = recorded
    records = {(h["WARC-Type"], h.get("WARC-Target-URI")): (http, body) for h, http, body in
               warc_records(Path(result.wacz["path"]))}
    css_headers, css = records[("response", f"{site}/recorded/style.css")]
    assert css == STYLE_CSS  # decoded, with the encoding kept under X-Archive-Orig-
    assert css_headers["X-Archive-Orig-Content-Encoding"] == "gzip" and "Content-Encoding" not in css_headers
    # A cookie the server set is a session secret: its value is nowhere in the archive (a registered
    # bundle is a public record).
    assert not any(b"hemligt" in body or "hemligt" in json.dumps([h, http]) for h, http, body in
                   warc_records(Path(result.wacz["path"])))
    assert records[("response", f"{site}/recorded/big.png")][1] == BIG_PNG  # streamed: over INLINE_MAX_BYTES
    assert records[("response", f"{site}/recorded/old.png")][0]["Location"] == "/recorded/new.png"
    assert records[("response", f"{site}/recorded/new.png")][1] == NEW_PNG
    # The streamed image reached the page whole: its pixels are in the screenshot where the page put it.
    page = manifest["pages"][0]
    shot = Image.open(io.BytesIO(records[("resource", f"urn:fullPage:{page['recording']['page_url']}")][1])
                      ).convert("RGB")
    left, top = BIG_AT
    assert shot.crop((left, top, left + 320, top + 240)).tobytes() == Image.open(io.BytesIO(BIG_PNG)).tobytes()
    words = " ".join(w[4] for w in result.captures[0].words)
    assert "Hämtat med fetch: 42 platser" in words  # the fetch() the recorder paused came back to the page


@pytest.mark.browser
def test_the_screenshot_record_is_the_pdfs_pixels_from_the_same_visit(recorded):
    from test_bundle import tiles_from_pdf

    result, _, manifest, _ = recorded
    page = manifest["pages"][0]
    found = [(h, body) for h, _, body in warc_records(Path(result.wacz["path"]))
             if h.get("WARC-Record-ID") == page["recording"]["screenshot_record"]]
    assert len(found) == 1
    headers, png = found[0]
    assert headers["WARC-Type"] == "resource" and headers["Content-Type"] == "image/png"
    assert headers["WARC-Refers-To-Target-URI"] == page["recording"]["page_url"]
    assert headers["WARC-Refers-To"] == page["recording"]["page_record"]
    assert hashlib.sha256(png).hexdigest() == page["recording"]["screenshot_png_sha256"]
    pixels = Image.open(io.BytesIO(png)).convert("RGB").tobytes()
    assert hashlib.sha256(pixels).hexdigest() == page["pixels_sha256"]
    assert stack(tiles_from_pdf(result.pdf, page)).tobytes() == pixels
    warcinfo_ids = {h["WARC-Warcinfo-ID"] for h, _, _ in warc_records(Path(result.wacz["path"]))
                    if h["WARC-Type"] != "warcinfo"}
    assert len(warcinfo_ids) == 1  # the screenshot, the page-info and the exchanges: one warcinfo
    assert manifest["wacz"]["sha256"] == hashlib.sha256(Path(result.wacz["path"]).read_bytes()).hexdigest()


@pytest.mark.browser
def test_verify_checks_the_wacz_and_a_flipped_byte_fails(recorded, tmp_path):
    result, catalog, manifest, _ = recorded
    outcome = verify_bundle(Path(result.location), catalog.get_bundle(result.bundle_id))
    assert outcome.ok, [c for c in outcome.checks if not c.ok]
    names = {c.name for c in outcome.checks}
    assert {"WACZ SHA-256 matches manifest", "WACZ files match datapackage.json",
            "WACZ datapackage-digest.json matches datapackage.json",
            "screenshot record of badplatser matches its pixel hash"} <= names
    copy = tmp_path / "flipped"
    shutil.copytree(result.location, copy)
    wacz = copy / manifest["wacz"]["file"]
    data = bytearray(wacz.read_bytes())
    data[len(data) // 2] ^= 0x01
    wacz.write_bytes(bytes(data))
    failed = {c.name for c in verify_bundle(copy).checks if not c.ok}
    assert "WACZ SHA-256 matches manifest" in failed
    # A WARC changed inside the WACZ, with the manifest's hash of the WACZ forged to match: datapackage.json
    # still has the WARC's own hash.
    forged = tmp_path / "forged"
    shutil.copytree(result.location, forged)
    wacz = forged / manifest["wacz"]["file"]
    warc_name = manifest["pages"][0]["recording"]["warc"]
    with zipfile.ZipFile(Path(result.location) / manifest["wacz"]["file"]) as src, \
            zipfile.ZipFile(wacz, "w") as out:
        for info in src.infolist():
            member = src.read(info)
            if info.filename == warc_name:
                member = member[:-1] + bytes([member[-1] ^ 0x01])
            out.writestr(info, member)
    forged_manifest = json.loads((forged / manifest_io.MANIFEST_NAME).read_text(encoding="utf-8"))
    forged_manifest["wacz"]["sha256"] = manifest_io.sha256_file(wacz)
    (forged / manifest_io.MANIFEST_NAME).write_bytes(manifest_io.dump(forged_manifest))
    checks = {c.name: c for c in verify_bundle(forged).checks}
    assert checks["WACZ SHA-256 matches manifest"].ok
    assert not checks["WACZ files match datapackage.json"].ok and warc_name in checks[
        "WACZ files match datapackage.json"].detail


@pytest.mark.browser
def test_a_register_that_turns_the_wacz_off_gets_none(tmp_path, site, browser_choice):
    result, _ = run_bundle(tmp_path, site, browser_choice, wacz=False)
    manifest = manifest_io.load(Path(result.manifest))
    assert result.wacz is None and "wacz" not in manifest and "recording" not in manifest["pages"][0]
    assert not list(Path(result.location).glob("*.wacz"))


@pytest.mark.browser
def test_a_wacz_that_cannot_be_built_does_not_cost_the_bundle(tmp_path, site, browser_choice, monkeypatch):
    """py-wacz refusing (as it does a main page its index lacks) leaves the PDF/A bundle stored and whole."""
    import wacz.main

    def refuse(args):
        raise ValueError("ts None not found in index")

    monkeypatch.setattr(wacz.main, "main", refuse)
    result, catalog = run_bundle(tmp_path, site, browser_choice)
    manifest = manifest_io.load(Path(result.manifest))
    page = manifest["pages"][0]
    assert page["status"] == "ok" and result.wacz is None and "wacz" not in manifest and "recording" not in page
    assert any("web archive of this visit could not be built" in w for w in page["warnings"])
    assert not list(Path(result.location).glob("*.wacz"))
    assert verify_bundle(Path(result.location), catalog.get_bundle(result.bundle_id)).ok
    cover = subprocess.run(["pdftotext", "-f", "1", "-l", "1", result.pdf, "-"], capture_output=True, text=True,
                           check=True).stdout
    # No section for a WACZ that is not there; the page's warning, on the cover too, says why.
    assert "Webbarkivet (WACZ) av samma besök" not in cover and "could not be built" in " ".join(cover.split())


@pytest.mark.browser
def test_pywb_replays_the_pages_own_html_and_images_from_the_wacz(recorded, tmp_path):
    """pywb, an independent replay engine, serves the recorded page and its images back, offline."""
    if shutil.which("wb-manager", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("pywb is not installed (pip install -e '.[test]')")
    result, _, _, site = recorded
    tools = Path(sys.executable).parent
    subprocess.run([tools / "wb-manager", "init", "arkiv"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([tools / "wb-manager", "add", "--unpack-wacz", "arkiv", result.wacz["path"]], cwd=tmp_path, check=True,
                   capture_output=True)
    port = free_port()
    server = subprocess.Popen([tools / "wayback", "--bind", "127.0.0.1", "-p", str(port)], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def get(url: str) -> bytes:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/arkiv/2026id_/{url}", timeout=10) as answer:
                return answer.read()

        deadline = time.monotonic() + 30
        while True:
            try:
                html = get(f"{site}/recorded/page.html").decode("utf-8")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert "Kommunens badplatser" in html and (FIXTURES / "recorded" / "page.html").read_text() == html
        assert get(f"{site}/recorded/big.png") == BIG_PNG
        assert get(f"{site}/recorded/new.png") == NEW_PNG
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.browser
def test_replaywebpage_replays_the_page_offline_and_its_text_is_there(recorded, replay_dir, browser_choice):
    """A real Chromium, ReplayWeb.page from npm, the bundle's WACZ: the fixture site is gone, the page is not."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright
    from warcio.timeutils import iso_date_to_timestamp

    from archiver.capture.browser import CHROMIUM_ARGS
    from archiver.demo.server import send_html
    from archiver.web.views.replay import FRAME_BOOTSTRAP

    result, _, manifest, _ = recorded
    page_url, ts = manifest["pages"][0]["recording"]["page_url"], manifest["pages"][0]["recording"]["page_ts"]
    with pytest.raises(OSError):
        urllib.request.urlopen(page_url, timeout=2)  # offline: the site that was captured is not there
    embed = (f'<!doctype html><html><head><script src="/replay/ui.js"></script></head><body>'
             f'<replay-web-page source="/bundle.wacz" url="{page_url}" ts="{iso_date_to_timestamp(ts)}" '
             'replayBase="/replay/" embed="replayonly" style="display:block;width:1200px;height:800px">'
             '</replay-web-page></body></html>')
    wacz = Path(result.wacz["path"]).read_bytes()
    routes = {"/": lambda req: send_html(req, 200, embed),
              "/replay/": lambda req: send_html(req, 200, FRAME_BOOTSTRAP),  # as the app answers it
              "/bundle.wacz": lambda req: _send(req, wacz, "application/wacz"),
              "/replay/ui.js": lambda req: _send(req, (replay_dir / "ui.js").read_bytes(), "application/javascript"),
              "/replay/sw.js": lambda req: _send(req, (replay_dir / "sw.js").read_bytes(), "application/javascript")}
    with serve_directory(replay_dir, routes=routes) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_choice.executable, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page()
            page.goto(f"{base}/")
            deadline = time.monotonic() + 60
            found = None
            while found is None and time.monotonic() < deadline:
                for frame in page.frames:
                    if "/recorded/page.html" in frame.url and "mp_/" in frame.url:  # its script sets ?flik=
                        try:
                            text = frame.evaluate("document.body ? document.body.innerText : ''")
                        except PlaywrightError:  # a frame navigating away while it is read
                            continue
                        if "Hämtat med fetch: 42 platser" in text:
                            found = (frame, text)
                page.wait_for_timeout(300)
            assert found is not None, [f.url for f in page.frames]
            frame, text = found
            assert "Kommunens badplatser" in text and "Sommarens badplatser öppnar i juni." in text
            # The recorded image came back too, at its size: the replay serves what the visit received.
            assert frame.evaluate("document.getElementById('big').naturalWidth") == 320
        finally:
            browser.close()


@pytest.mark.browser
def test_a_slow_network_and_cpu_still_record_every_response_and_the_same_page(browser_choice, tmp_path):
    """Throttled (150 ms a request, 10 Mbit/s, CPU 4x slower): recording holds each response until its body is
    read, which must not lose one or change what the page shows."""
    import asyncio
    from types import SimpleNamespace

    from archiver.capture import CaptureSettings, capture_page, launch_browser
    from archiver.capture.throttle import Throttle

    async def capture(site: str):
        async with launch_browser(browser_choice) as browser:
            entry = SimpleNamespace(id="badplatser", platform="generic", url=f"{site}/recorded/page.html",
                                    owner="Kommunikationsavdelningen", name=None)
            settings = CaptureSettings(record=True, allow_private_networks=True, tile_spool=str(tmp_path),
                                       throttle=Throttle(), run_id="slow")
            return await capture_page(browser, entry, settings)

    with serve_directory(FIXTURES, routes=ROUTES) as site, pytest.MonkeyPatch.context() as patch:
        patch.setattr(record, "INLINE_MAX_BYTES", STREAM_ABOVE)
        captured = asyncio.run(capture(site))
    assert captured.ok, captured.error
    assert "Hämtat med fetch: 42 platser" in " ".join(w[4] for w in captured.words)
    with open(captured.recording["warc_path"], "rb") as warc:
        records = {(rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI")): rec.content_stream().read()
                   for rec in ArchiveIterator(warc) if rec.rec_type in ("response", "resource")}
    assert records[("response", f"{site}/recorded/big.png")] == BIG_PNG  # streamed, whole
    assert records[("response", f"{site}/recorded/style.css")] == STYLE_CSS
    assert ("response", f"{site.replace('127.0.0.1', 'localhost')}/recorded/frame.css") in records
    shot = Image.open(io.BytesIO(records[("resource", f"urn:fullPage:{captured.recording['page_url']}")]))
    shot = shot.convert("RGB")
    left, top = BIG_AT  # the image the recorder streamed reached the page whole, where the page put it
    assert shot.crop((left, top, left + 320, top + 240)).tobytes() == Image.open(io.BytesIO(BIG_PNG)).tobytes()
    assert hashlib.sha256(shot.tobytes()).hexdigest() == captured.pixels_sha256
