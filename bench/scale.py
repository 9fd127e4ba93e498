"""`make bench`'s scale set: does a run's cost grow with its work only as the work does?

Ours alone (shot-scraper is no yardstick here): one run of the ten plain pages, one of a hundred (the same
ten pages, each ten times under another address, so every capture is a fresh fetch in a fresh context),
and one of a single 100,000 px page, the register's height limit. For each: wall seconds, seconds per page
and the peak memory of our own process (RSS of the Python process, sampled every 50 ms), beside the
whole process tree's. What the issue asks: time per page flat from 10 to 100 pages, and our process
under 400 MiB for the 100,000 px page and for the 100 pages.
"""

from __future__ import annotations

from pathlib import Path

from archiver.demo.server import serve_directory, tall_page
from bench.pages import FixturePage, write_site

COUNTS = (10, 100)
TALLEST = FixturePage("tall-100000", "generic", "/tall-100000.html", 100_000)
OWN_LIMIT_MB = 400


def scale_pages(site: list[FixturePage], count: int) -> list[FixturePage]:
    """`count` pages cycling through the site's, each under its own address (a query the server ignores)."""
    return [FixturePage(f"s{n + 1:03d}-{page.platform}", page.platform, f"{page.path}?copy={n + 1}", page.height_px)
            for n in range(count) for page in [site[n % len(site)]]]


def run_scale(tmp: Path, measure, register_yaml, command) -> dict:
    """Measure each run once (`measure(cmd, log)` -> Sample); the figures for output/bench.json."""
    site = write_site(tmp / "site")
    runs = {f"{count} pages": scale_pages(site, count) for count in COUNTS} | {"100,000 px page": [TALLEST]}
    results = {}
    with serve_directory(tmp / "site", routes={TALLEST.path: tall_page(TALLEST.height_px)}) as base_url:
        for name, pages in runs.items():
            folder = tmp / name.replace(" ", "-").replace(",", "")
            folder.mkdir(parents=True)
            registry = folder / "pages.yaml"
            registry.write_text(register_yaml(pages, base_url, folder / "store"), encoding="utf-8")
            sample = measure(command(registry), folder / "run.log")
            results[name] = {"pages": len(pages), "seconds": round(sample.seconds, 2),
                             "seconds_per_page": round(sample.seconds / len(pages), 3),
                             "own_peak_mb": round(sample.own_peak_mb), "tree_peak_mb": round(sample.peak_mb),
                             "cpu_s": round(sample.cpu_s, 2)}
    few, many = (results[f"{count} pages"] for count in COUNTS)
    return {"runs": results,
            "per_page_ratio_100_over_10": round(many["seconds_per_page"] / few["seconds_per_page"], 2),
            "own_peak_limit_mb": OWN_LIMIT_MB}


def scale_report(figures: dict) -> str:
    lines = [f"{'':24}{'seconds':>10}{'per page':>10}{'ours MB':>10}{'tree MB':>10}"]
    for name, run in figures["runs"].items():
        lines.append(f"{name:24}{run['seconds']:>10.2f}{run['seconds_per_page']:>10.3f}"
                     f"{run['own_peak_mb']:>10}{run['tree_peak_mb']:>10}")
    over = [name for name, run in figures["runs"].items() if run["own_peak_mb"] >= figures["own_peak_limit_mb"]]
    lines += [f"time per page, 100 pages over 10: {figures['per_page_ratio_100_over_10']:.2f} (1.00 = flat)",
              f"our process's peak memory under {figures['own_peak_limit_mb']} MB in every run: "
              + ("yes" if not over else f"NO ({', '.join(over)})"),
              "one run each; 'ours' is the Python process alone, 'tree' adds Playwright's driver and Chromium."]
    return "\n".join(lines)
