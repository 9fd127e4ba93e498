"""`make bench`'s compare set: `archiver bundles compare` on two 60,000 px captures of one feed.

A feed page of posts (text and a photo each) about 60,000 px tall is captured by `archiver run`, then
changed the way pages change between two half-yearly captures (a post added at the top, one removed,
one sentence edited, one photo replaced) and captured again. Measured: the wall time, peak memory and
CPU seconds of `archiver bundles compare OLD NEW --json` (both bundles verified, pixels aligned, text
layers read, posts matched, the PDF/A report written), and what it found.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from archiver.demo.server import serve_directory
from bench.pages import FixturePage

HEIGHT_PX = 60_000
POST_PX = 408  # about: a post's header, three lines of text, a 200 px photo, margins
WORDS = ("kommunen", "vinter", "biblioteket", "öppettider", "snöröjning", "simhallen", "fullmäktige", "torget",
         "lekplatsen", "invigning", "kollektivtrafik", "enkäten", "fritidsgården", "återvinning", "julbelysning")


def _post(n: int, text: str, colour: str) -> str:
    return (f'<article><header><a rel="author" href="/kommun">Götene kommun</a> · <a href="/kommun/posts/{n}">'
            f'<time datetime="2026-06-01T10:00:00Z">{n} jun</time></a></header><p>{text}</p>'
            f'<div class="photo" style="background:{colour}"></div></article>')


def feed(posts: list[tuple[int, str, str]]) -> str:
    body = "".join(_post(*p) for p in posts)
    return ('<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Götene kommun – flöde</title><style>'
            "body{margin:0 auto;width:900px;font:18px/1.5 DejaVu Sans,sans-serif;background:#f4f4f4}"
            "article{background:#fff;border:1px solid #ccc;margin:16px 0;padding:12px}"
            ".photo{height:200px;width:600px}</style></head><body>" + body + "</body></html>")


def versions() -> tuple[str, str]:
    rng = random.Random(60_000)
    count = HEIGHT_PX // POST_PX
    posts = [(n, " ".join(rng.choice(WORDS) for _ in range(rng.randrange(20, 40))).capitalize() + ".",
              f"#{rng.randrange(0x1000000):06x}") for n in range(1, count + 1)]
    after = [(count + 1, "Nu är julbelysningen på plats längs hela Storgatan.", "#22aa44")] + [
        (n, "Återvinningscentralen har öppet på söndagar." if n == count // 2 else text,
         "#cc3322" if n == 3 * count // 4 else colour)
        for n, text, colour in posts if n != count // 3]
    return feed(posts), feed(after)


def run_compare(tmp: Path, measure, register_yaml, archiver_run, bin_dir: Path) -> dict:
    """Two captures, one comparison; `measure` and the rest are bench/run.py's."""
    site = tmp / "site"
    site.mkdir(parents=True)
    before, after = versions()
    bundles = []
    with serve_directory(site) as base_url:
        registry = tmp / "pages.yaml"
        registry.write_text(register_yaml([FixturePage("feed", "generic", "/index.html", HEIGHT_PX)], base_url,
                                          tmp / "store"), encoding="utf-8")
        for n, html in enumerate((before, after)):
            (site / "index.html").write_text(html, encoding="utf-8")
            measure(archiver_run(registry), tmp / f"run-{n}.log")  # exits the bench when a run fails
            bundles.append(json.loads(_json_of(tmp / f"run-{n}.log"))["bundle_id"])
    out = tmp / "compare.json"
    cmd = [str(bin_dir / "archiver"), "-q", "--registry", str(registry), "bundles", "compare", *bundles, "--json",
           "--out", str(tmp / "reports")]
    sample = measure(cmd, tmp / "compare.log")
    found = json.loads(_json_of(tmp / "compare.log"))
    (page,) = found["pages"]
    heights = [json.loads(p.read_text())["pages"][0]["height_px"] for p in sorted((tmp / "store").glob("*/*/manifest.json"))]
    out.write_text(json.dumps(found, ensure_ascii=False), encoding="utf-8")
    return {"heights_px": heights, "seconds": round(sample.seconds, 2), "peak_rss_mb": round(sample.peak_mb),
            "cpu_seconds": round(sample.cpu_s, 2), "regions": len(page["regions"]),
            "kinds": [r["kind"] for r in page["regions"]], "posts_removed": len(page["posts_removed"]),
            "posts_added": len(page["posts_added"]), "words_added": len(page["words_added"]),
            "words_removed": len(page["words_removed"]), "changed_ratio": page["changed_ratio"],
            "report_bytes": Path(found["report"]).stat().st_size}


def _json_of(log: Path) -> str:
    """The JSON a command printed (stdout and stderr share the log; -q keeps the logs to warnings)."""
    text = log.read_text(encoding="utf-8")
    return text[text.index("{"):text.rindex("}") + 1]


def compare_report(figures: dict) -> str:
    first = (f"two captures of {figures['heights_px'][0]:,} and {figures['heights_px'][1]:,} px compared in "
             f"{figures['seconds']:.1f} s wall, {figures['cpu_seconds']:.1f} CPU-s, peak {figures['peak_rss_mb']:.0f} MB")
    second = (f"found {figures['regions']} region(s) ({', '.join(figures['kinds'])}), {figures['posts_removed']} "
              f"post(s) gone, {figures['posts_added']} new, {figures['words_added']} word(s) added, "
              f"{figures['words_removed']} removed; {100 * figures['changed_ratio']:.2f} % of rows; report "
              f"{figures['report_bytes'] / 1e6:.1f} MB")
    return f"{first}\n{second}"
