"""Pure helpers, tested without a browser: browser discovery, due dates, bundle ids, PNG normalising."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from archiver.capture.browser import find_browser
from archiver.capture.tiles import cut, encode_png, normalise_png, plan_segments, plan_tiles, stack
from archiver.errors import ConfigurationError, NotFoundError
from archiver.models import new_bundle_id
from archiver.schedule import add_months, due_status
from archiver.store.local import BUNDLE_ID, check_bundle_id


def test_browser_override_wins(tmp_path):
    exe = tmp_path / "chrome"
    exe.write_text("")
    choice = find_browser({"ARCHIVER_BROWSER": str(exe)}, lambda: "/pw/chrome", lambda name: None)
    assert (choice.executable, choice.source) == (str(exe), "ARCHIVER_BROWSER")


def test_browser_override_that_does_not_exist_is_refused():
    with pytest.raises(ConfigurationError, match="ARCHIVER_BROWSER"):
        find_browser({"ARCHIVER_BROWSER": "/nonexistent/chrome"}, lambda: None, lambda name: None)


def test_playwrights_browser_before_the_systems():
    choice = find_browser({}, lambda: "/pw/chrome", lambda name: "/usr/bin/chromium")
    assert (choice.executable, choice.source) == (None, "playwright")


def test_system_browser_when_playwright_has_none():
    choice = find_browser({}, lambda: None, lambda name: "/usr/bin/chromium" if name == "chromium" else None)
    assert (choice.executable, choice.source) == ("/usr/bin/chromium", "system")


def test_no_browser_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="make install") as info:
        find_browser({}, lambda: None, lambda name: None)
    assert info.value.exit_code == 2


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_add_months_clamps_to_month_end():
    assert add_months(utc(2026, 8, 31), 6) == utc(2027, 2, 28)
    assert add_months(utc(2026, 5, 15, 6, 0), 6) == utc(2026, 11, 15, 6, 0)


def test_due_rules():
    pages = {"facebook", "instagram"}
    assert due_status(None, set(), pages, 6, utc(2026, 1, 1)).due
    last = utc(2026, 5, 15)
    not_yet = due_status(last, pages, pages, 6, utc(2026, 11, 14))
    assert not not_yet.due and not_yet.next_due == utc(2026, 11, 15)
    assert due_status(last, pages, pages, 6, utc(2026, 11, 15)).due
    added = due_status(last, {"facebook"}, pages, 6, utc(2026, 6, 1))
    assert added.due and "instagram" in added.why


def test_bundle_ids_are_well_formed_and_guard_paths():
    bundle_id = new_bundle_id(utc(2026, 11, 24, 20, 58, 46), "3f9a1c")
    assert bundle_id == "20261124T205846Z-3f9a1c" and BUNDLE_ID.match(bundle_id)
    for bad in ("../2026", "20261124T205846Z-3f9a1c/../../x", "", "2026"):
        with pytest.raises(NotFoundError, match="not a bundle id"):
            check_bundle_id(bad)


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_rgb_png_is_kept_byte_for_byte():
    data = png(Image.new("RGB", (4, 4), (1, 2, 3)))
    kept, image = normalise_png(data)
    assert kept is data and image.size == (4, 4)


def test_alpha_is_flattened_on_white():
    rgba = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    rgba.putpixel((1, 0), (255, 0, 0, 255))
    data, image = normalise_png(png(rgba))
    assert Image.open(io.BytesIO(data)).mode == "RGB"
    assert [image.getpixel((0, 0)), image.getpixel((1, 0))] == [(255, 255, 255), (255, 0, 0)]
    assert image.tobytes() == Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def test_playwrights_own_build_is_found_on_disk_without_starting_its_driver(tmp_path):
    import json

    import playwright

    from archiver.capture.browser import _playwright_build

    browsers = json.loads((Path(playwright.__file__).parent / "driver/package/browsers.json").read_text())
    revision = next(b["revision"] for b in browsers["browsers"] if b["name"] == "chromium-headless-shell")
    build = _playwright_build({"PLAYWRIGHT_BROWSERS_PATH": str(tmp_path)})
    assert build == tmp_path / f"chromium_headless_shell-{revision}" and not build.is_dir()
    build.mkdir()
    assert _playwright_build({"PLAYWRIGHT_BROWSERS_PATH": str(tmp_path)}).is_dir()
    assert _playwright_build({"XDG_CACHE_HOME": str(tmp_path)}).parent == tmp_path / "ms-playwright"


def test_segments_group_whole_tiles_up_to_the_limit():
    tiles = plan_tiles(20_000, 1810)
    segments = plan_segments(tiles, max_px=8000)
    assert [t for segment in segments for t in segment] == tiles
    assert [len(s) for s in segments] == [4, 4, 4]  # 11 tiles of 1810 px and one of 90 px
    assert all(sum(h for _, h in s) <= 8000 for s in segments)
    assert plan_segments([(0, 9000), (9000, 100)], max_px=8000) == [[(0, 9000)], [(9000, 100)]]


def test_cutting_a_segment_gives_its_tiles_back_exactly():
    image = Image.new("RGB", (40, 300))
    for y in range(300):
        image.paste((y % 256, y // 256, 7), (0, y, 40, y + 1))
    segment = [(1000, 120), (1120, 120), (1240, 60)]
    tiles = cut(image, segment, b"unused")
    assert [Image.open(io.BytesIO(png)).size for png, _ in tiles] == [(40, 120), (40, 120), (40, 60)]
    assert stack([Image.open(io.BytesIO(png)).convert("RGB") for png, _ in tiles]).tobytes() == image.tobytes()
    assert cut(image, [(0, 300)], b"browser bytes") == [(b"browser bytes", None)]
    ((encoded, _),) = cut(image, [(0, 300)], None)  # the browser's bytes held more rows: encoded anew
    assert Image.open(io.BytesIO(encoded)).convert("RGB").tobytes() == image.tobytes()


@pytest.mark.parametrize("size", [(5, 5), (37, 5), (5, 29), (300, 211)])
def test_our_png_encoder_is_lossless_and_read_by_pillow_and_img2pdf(size):
    import random

    import img2pdf
    import pikepdf

    rng = random.Random(size[0] * 1000 + size[1])
    image = Image.frombytes("RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3)))
    data = encode_png(image)
    decoded = Image.open(io.BytesIO(data))
    assert (decoded.mode, decoded.size) == ("RGB", size)
    assert decoded.tobytes() == image.tobytes()
    # img2pdf embeds the deflated rows as they are, with PNG's predictor: a reader undoes the "Up" filter.
    pdf = pikepdf.open(io.BytesIO(img2pdf.convert([data], rotation=img2pdf.Rotation.none)))
    (xobject,) = pdf.pages[0].Resources.XObject.values()
    assert pikepdf.PdfImage(xobject).as_pil_image().tobytes() == image.tobytes()
    with pytest.raises(ValueError, match="RGB"):
        encode_png(image.convert("L"))


def test_step_clock_times_steps_with_cpu_of_this_process_and_its_children():
    import subprocess
    import sys
    import time

    from archiver.profile import CpuSampler, StepClock

    clock = StepClock(CpuSampler())
    with clock.step("sleep"):
        time.sleep(0.2)
    with clock.step("work"):
        sum(i * i for i in range(2_000_000))
    with clock.step("child"):  # a child process's CPU counts as the browser's, as Chromium's does
        subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    clock.add_part("a part", 0.05, within="work")
    steps = {s["name"]: s for s in clock.as_list()}
    assert steps["sleep"]["wall_s"] >= 0.2 and steps["sleep"]["cpu_s"] < 0.05
    assert steps["work"]["cpu_s"] > 0.05 and steps["work"]["browser_cpu_s"] == 0
    assert steps["a part"] == {"name": "a part", "wall_s": 0.05, "within": "work"}
    # An exited child keeps the figure last read for it: read while it ran, or none (it ran between samples).
    assert steps["child"]["wall_s"] > 0.05 and steps["child"]["browser_cpu_s"] >= 0
    assert StepClock().as_list() == [] and "cpu_s" not in _timed_without_sampler()


def _timed_without_sampler() -> dict:
    from archiver.profile import StepClock

    clock = StepClock()
    with clock.step("plain"):
        pass
    return clock.as_list()[0]


def test_bench_profile_adds_each_step_over_pages_from_the_median_of_repeats():
    from bench.profile import covered, report_lines, step_table

    def profile(wall: float, pages: dict) -> dict:
        return {"run": [{"name": "start-up", "wall_s": 0.5}, {"name": "captures", "wall_s": wall},
                        {"name": "set-up", "wall_s": 0.3, "within": "captures"}],
                "pages": {key: [{"name": "tiles", "wall_s": w, "cpu_s": w / 2}] for key, w in pages.items()}}

    table = step_table({"a": [profile(1.0, {"a": 0.8}), profile(3.0, {"a": 2.0}), profile(2.0, {"a": 1.0})],
                        "b": [profile(1.0, {"b": 0.5})],
                        "both": [profile(2.0, {"a": 0.6, "b": 0.4})]})  # one run's pages add up
    assert table["captures"]["wall_s"] == 2.0 + 1.0 + 2.0 and table["start-up"]["wall_s"] == 1.5
    assert table["page: tiles"]["wall_s"] == 1.0 + 0.5 + 1.0 and table["page: tiles"]["cpu_s"] == 1.25
    assert "set-up" not in table  # a part within a step is not counted twice
    assert covered(table, 6.5) == pytest.approx(1.0)
    lines = report_lines(table, 6.5, 3)
    assert [line.split()[0] for line in lines[2:5]] == ["start-up", "captures", "tiles"]
    assert "100% of the 6.50 s measured" in lines[-1]


def test_bench_scale_set_cycles_the_pages_under_new_addresses_and_flags_memory_over_the_limit():
    from bench.pages import FixturePage
    from bench.scale import scale_pages, scale_report

    site = [FixturePage(f"p{n}", "facebook", f"/p{n}.html", 1500 + n) for n in range(3)]
    pages = scale_pages(site, 7)
    assert len({p.id for p in pages}) == len({p.path for p in pages}) == 7
    assert [p.path.split("?")[0] for p in pages] == [f"/p{n % 3}.html" for n in range(7)]
    run = {"pages": 10, "seconds": 12.0, "seconds_per_page": 1.2, "own_peak_mb": 180, "tree_peak_mb": 1500,
           "cpu_s": 20.0}
    figures = {"runs": {"10 pages": run, "100 pages": dict(run, pages=100, own_peak_mb=420)},
               "per_page_ratio_100_over_10": 1.0, "own_peak_limit_mb": 400}
    assert "NO (100 pages)" in scale_report(figures)
    figures["runs"]["100 pages"]["own_peak_mb"] = 390
    assert "400 MB in every run: yes" in scale_report(figures)


def test_concurrency_left_out_is_a_page_per_core_and_one_more_within_memory():
    from archiver.capture.page import PAGE_MEMORY_BYTES, auto_concurrency

    assert auto_concurrency(cpus=2, available_bytes=20 * 2**30) == 3
    assert auto_concurrency(cpus=1, available_bytes=20 * 2**30) == 2
    assert auto_concurrency(cpus=16, available_bytes=3 * PAGE_MEMORY_BYTES) == 3  # memory bounds it
    assert auto_concurrency(cpus=64, available_bytes=None) == 8  # and a ceiling
    assert auto_concurrency(cpus=2, available_bytes=None) == 3  # memory unknown: no limit of its own
    assert auto_concurrency(cpus=4, available_bytes=PAGE_MEMORY_BYTES // 2) == 1
    assert 1 <= auto_concurrency() <= 8  # this machine's own figures


def test_network_watch_tells_requests_that_can_run_code_from_images_and_old_polls():
    """The late-consent wait asks only about scripts, fetches and documents: an image still loading cannot
    bring a dialog. A request started long ago is a poll, not something loading."""
    from archiver.capture.network import FEED_REQUEST_TYPES, RECENT_REQUEST_S, NetworkWatch

    class Request:  # what NetworkWatch reads of Playwright's: its type; hashed by identity, as theirs are
        def __init__(self, resource_type: str) -> None:
            self.resource_type = resource_type

    async def go():
        now = asyncio.get_running_loop().time()
        watch = NetworkWatch()
        image, script, poll = (Request(t) for t in ("image", "script", "fetch"))
        watch.started[image] = now
        only_image = (watch.loading(), watch.loading(FEED_REQUEST_TYPES))
        watch.started[poll] = now - RECENT_REQUEST_S - 1
        with_old_poll = watch.loading(FEED_REQUEST_TYPES)
        watch.started[script] = now
        with_script = watch.loading(FEED_REQUEST_TYPES), watch.loading_since(now, FEED_REQUEST_TYPES)
        watch._ended(script, now + 0.1)
        return only_image, with_old_poll, with_script, watch.quiet_since(now, FEED_REQUEST_TYPES)

    only_image, with_old_poll, with_script, quiet_after_script = asyncio.run(go())
    assert only_image == (True, False)
    assert with_old_poll is False
    assert with_script == (True, True)
    assert quiet_after_script is False  # the script ended after the moment asked about: its handler may yet run


def test_malloc_arenas_are_capped_unless_the_operator_chose(monkeypatch):
    import ctypes
    import sys

    from archiver.malloc import cap_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_arenas() is False  # the operator's setting stands
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    glibc = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    assert cap_arenas() is glibc
