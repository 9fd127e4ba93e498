"""The demo server serves the offline site and the fixtures other tests rely on, without a browser."""

from __future__ import annotations

import re
import socket
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from archiver.demo import SITE_DIR, demo_register_yaml, serve_directory
from archiver.demo.server import expected_row_colour, hang, status, tall_page, tall_page_html


def fetch(url: str, method: str = "GET", timeout: float = 5) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_serves_site_as_utf8() -> None:
    with serve_directory(SITE_DIR) as base:
        code, headers, body = fetch(base + "/facebook.html")
    assert code == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    text = body.decode("utf-8")
    assert "Götene kommun" in text and "Vinterväghållning" in text and "öppettider" in text


def test_unknown_file_is_404() -> None:
    with serve_directory(SITE_DIR) as base:
        assert fetch(base + "/finns-inte.html")[0] == 404


def test_status_route() -> None:
    with serve_directory(SITE_DIR, routes={"/trasig": status(503)}) as base:
        code, headers, body = fetch(base + "/trasig?x=1")
        head_code, _, head_body = fetch(base + "/trasig", method="HEAD")
    assert code == 503 and b"503" in body and headers["Content-Type"].startswith("text/html")
    assert head_code == 503 and head_body == b""


def test_hang_times_out_client_and_shutdown_is_prompt() -> None:
    server = serve_directory(SITE_DIR, routes={"/hang": hang})
    base = server.__enter__()
    try:
        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            fetch(base + "/hang", timeout=0.5)
    finally:
        started = time.monotonic()
        server.__exit__(None, None, None)
    assert time.monotonic() - started < 2


def test_tall_page_route() -> None:
    with serve_directory(SITE_DIR, routes={"/tall": tall_page(5000)}) as base:
        code, headers, body = fetch(base + "/tall")
        head_code, head_headers, head_body = fetch(base + "/tall", method="HEAD")
    html = body.decode("utf-8")
    assert code == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert html.startswith("<!doctype html>") and "height:5000px" in html
    assert head_code == 200 and head_body == b"" and head_headers["Content-Length"] == str(len(body))


def test_tall_page_bands_match_expected_colours() -> None:
    html = tall_page_html(1005)
    bands = re.findall(r'<i style="background:#([0-9a-f]{6})(?:;height:(\d+)px)?"></i>', html)
    assert len(bands) == 101 and bands[-1][1] == "5"
    for i, (hex_colour, _) in enumerate(bands):
        if i * 10 >= 60:  # above that the fixed header covers the bands
            assert tuple(bytes.fromhex(hex_colour)) == expected_row_colour(i * 10 + 9)


def test_expected_row_colour_is_deterministic() -> None:
    assert expected_row_colour(0) == expected_row_colour(59) == (200, 0, 0)
    assert expected_row_colour(60) == expected_row_colour(69) == (222, 66, 0)
    assert expected_row_colour(70) == (259 % 256, 77, 0)
    assert expected_row_colour(2560) == (256 * 37 % 256, 256 * 11 % 256, 53)
    assert [expected_row_colour(y) for y in (100, 12345, 99999)] == [
        expected_row_colour(y) for y in (100, 12345, 99999)
    ]
    with pytest.raises(ValueError):
        expected_row_colour(-1)


def test_binds_loopback_only() -> None:
    with serve_directory(SITE_DIR) as base:
        parts = urlsplit(base)
        assert parts.hostname == "127.0.0.1" and parts.port
        tcp = Path("/proc/net/tcp")
        if tcp.exists():
            listening = [
                line.split()[1] for line in tcp.read_text().splitlines()[1:] if line.split()[3] == "0A"
            ]
            assert f"0100007F:{parts.port:04X}" in listening
            assert f"00000000:{parts.port:04X}" not in listening


def test_demo_register_yaml(tmp_path: Path) -> None:
    text = demo_register_yaml("http://127.0.0.1:8123/")
    data = yaml.safe_load(text)
    assert data["organisation"] == "Götene kommun (demo)"
    assert data["capture"]["allow_private_networks"] is True and data["bundle"]["pdfa"] == "2b"
    assert [p["url"] for p in data["pages"]] == [
        f"http://127.0.0.1:8123/{name}.html" for name in ("facebook", "instagram", "youtube")
    ]
    assert {p["platform"] for p in data["pages"]} == {"facebook", "instagram", "youtube"}
    assert all((SITE_DIR / f"{p['id']}.html").is_file() for p in data["pages"])
    from archiver.register import load_register

    path = tmp_path / "pages.yaml"
    path.write_text(text, encoding="utf-8")
    assert [p.id for p in load_register(path).pages] == ["facebook", "instagram", "youtube"]


def test_site_has_no_external_resources() -> None:
    for page in SITE_DIR.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", text), page.name
        assert "url(" not in text and "@import" not in text, page.name
