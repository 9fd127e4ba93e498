"""`make bench`: wall time and peak memory of `archiver run` next to shot-scraper, on loopback pages.

Both tools are run as a user would run them, as whole commands (interpreter start, browser start, every
page, writing the output), on the same pages served from 127.0.0.1: ten feed pages (bench/pages.py)
and one 60,000 px page. Each measurement is repeated and the median reported, since one run on a
two-core machine is noisy. Memory is the peak of the summed RSS of the whole process tree (Python,
Playwright's driver and every Chromium process), sampled every 50 ms: what the machine must have free.

The two tools do not do the same work, and the report says so: ours captures in exact clipped tiles,
checks every seam, builds and validates a PDF/A and stores it with a catalog entry; shot-scraper takes
Playwright's plain full_page screenshot, one unchecked capture (the kind that can go wrong past
Chromium's 16,384 px texture limit), into PNG only. The report also says whether it did go wrong on the
60,000 px page, whose every pixel is known.

Run as `python -m bench.run` from the project folder (`make bench`); figures also go to
output/bench.json. BENCH_SETS picks the sets (default plain,heavy,scale: bench/heavy.py, bench/scale.py).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from PIL import Image

from archiver.capture import find_browser
from archiver.demo.server import expected_row_colour, serve_directory, tall_page
from bench import heavy
from bench.compare import compare_report, run_compare
from bench.pages import FixturePage, write_site
from bench.profile import covered, report_lines, step_table
from bench.queue import queue_report, run_queue
from bench.recording import recording_report, run_recording
from bench.scale import run_scale, scale_report

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))  # fewer for a quick look; medians need 3
SAMPLE_S = 0.05
COMMAND_LIMIT_S = 300  # one command that hangs must not hang the bench
TALL = FixturePage("tall-60000", "generic", "/tall-60000.html", 60_000)
# So that shot-scraper's Chromium, like ours, reaches nothing beyond the loopback server.
QUIET_FLAGS = ("--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--disable-gpu")
BIN = Path(sys.executable).parent
OUTPUT = Path(__file__).resolve().parents[1] / "output" / "bench.json"


@dataclass
class Sample:
    seconds: float
    peak_mb: float
    cpu_s: float  # CPU time of the whole process tree: the work done, whatever else the machine did
    profile: dict | None = None  # archiver's own per-step figures (`run --profile`)
    own_peak_mb: float = 0.0  # the command's own process alone (for us: the Python process)


def measure(cmd: list[str], env: dict[str, str], log: Path, profile: Path | None = None) -> Sample:
    """Run `cmd` to the end; its wall time, the peak summed RSS of its process tree and the tree's CPU time;
    with `profile`, the command writes its per-step profile there (archiver's `--profile`) and it is read back.

    Waiting on the process between samples (rather than sleeping) ends the clock as soon as it exits.
    """
    cpu: dict[int, float] = {}
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = psutil.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        peak, own, code = 0, 0, None
        while code is None and time.perf_counter() - start < COMMAND_LIMIT_S:
            peak = max(peak, _sample_tree(proc, cpu))
            try:
                own = max(own, proc.memory_info().rss)
            except psutil.Error:
                pass  # it has just exited
            try:
                code = proc.wait(timeout=SAMPLE_S)
            except psutil.TimeoutExpired:
                pass
        seconds = time.perf_counter() - start
    if code is None:
        for p in [*proc.children(recursive=True), proc]:
            p.kill()
        raise SystemExit(f"bench: {' '.join(cmd)} still running after {COMMAND_LIMIT_S} s; stopped it")
    if code != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} exited {code}:\n{log.read_text(errors='replace')[-3000:]}")
    figures = json.loads(profile.read_text(encoding="utf-8")) if profile is not None else None
    return Sample(seconds, peak / 2**20, sum(cpu.values()), figures, own / 2**20)


def _sample_tree(proc: psutil.Process, cpu: dict[int, float]) -> int:
    """The summed RSS of `proc` and its descendants now; notes each one's CPU seconds so far in `cpu`
    (counted this way because Chromium's processes are not all reaped into their parents' rusage)."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
            times = p.cpu_times()
            cpu[p.pid] = times.user + times.system
        except psutil.Error:
            pass  # exited between listing and reading: it holds no memory any more
    return total


def register_yaml(pages: list[FixturePage], base_url: str, store: Path) -> str:
    """Our register for the fixture pages: loopback allowed, settings as in schedules/pages.yaml."""
    lines = [
        "organisation: Götene kommun (bench)",
        "capture:",
        "  viewport: {width: 1280, height: 900}",
        "  timeout_s: 120",
        "  max_height_px: 100000",
        "  allow_private_networks: true  # the fixture server is on 127.0.0.1",
        f"storage:\n  local: {json.dumps(str(store))}",
        "bundle:\n  pdfa: 2b",
        "pages:",
    ]
    for page in pages:
        lines += [f"  - id: {page.id}", f"    platform: {page.platform}",
                  f"    url: {json.dumps(base_url + page.path)}", "    owner: Kommunikationsavdelningen"]
    return "\n".join(lines) + "\n"


def shots_yaml(pages: list[FixturePage], base_url: str, out: Path) -> str:
    """shot-scraper's multi file: width only, no height, which is what makes it a full-page shot."""
    return "".join(f"- url: {json.dumps(base_url + p.path)}\n  output: {json.dumps(f'{out / p.id}.png')}\n"
                   f"  width: 1280\n" for p in pages)


def playwright_env(tmp: Path) -> tuple[dict[str, str], str]:
    """An environment in which Playwright (so shot-scraper) can launch a headless Chromium.

    shot-scraper has no option for a browser executable, and Playwright's own build cannot be
    downloaded everywhere (not here). Where it is installed it is used as is. Otherwise a throwaway
    PLAYWRIGHT_BROWSERS_PATH gets symlinks to the Chromium our run uses, at the paths this Playwright
    expects for its chromium and chromium-headless-shell builds (revisions from its browsers.json,
    folder layout from its registry), so the user's own setup is never touched.
    """
    env = dict(os.environ)
    problem = _launch_problem(env)
    if problem is None:
        return env, "the Chromium Playwright has installed"
    import playwright

    exe = find_browser().executable or shutil.which("chromium")
    if exe is None:
        raise SystemExit(f"bench: no Chromium for shot-scraper: {problem}")
    arch = "linux64" if platform.machine() in ("x86_64", "AMD64") else "linux-arm64"
    layout = {"chromium": f"chrome-{arch}/chrome",
              "chromium-headless-shell": f"chrome-headless-shell-{arch}/chrome-headless-shell"}
    browsers = json.loads((Path(playwright.__file__).parent / "driver/package/browsers.json").read_text())
    root = tmp / "ms-playwright"
    for browser in browsers["browsers"]:
        name = browser["name"]
        if name in layout:
            link = root / f"{name.replace('-', '_')}-{browser['revision']}" / layout[name]
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(exe)
    env["PLAYWRIGHT_BROWSERS_PATH"] = str(root)
    problem = _launch_problem(env)
    if problem is not None:
        raise SystemExit(f"bench: Playwright does not launch the Chromium linked in {root}: {problem}")
    return env, f"{exe}, linked into a temporary PLAYWRIGHT_BROWSERS_PATH"


def _launch_problem(env: dict[str, str]) -> str | None:
    """Why Playwright cannot launch headless Chromium in `env` (None if it can); in a child process, so
    the environment is exactly the one shot-scraper will get."""
    probe = ("from playwright.sync_api import sync_playwright\n"
             f"with sync_playwright() as p: p.chromium.launch(args={list(QUIET_FLAGS)!r}).close()")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["failed"])[-1]


def summarise(samples: list[Sample]) -> dict:
    """Median seconds and peak MB over the repeats, with every run kept for the JSON."""
    return {"seconds": round(statistics.median(s.seconds for s in samples), 2),
            "peak_mb": round(statistics.median(s.peak_mb for s in samples)),
            "cpu_s": round(statistics.median(s.cpu_s for s in samples), 2),
            "runs": [{"seconds": round(s.seconds, 3), "peak_mb": round(s.peak_mb), "cpu_s": round(s.cpu_s, 2)}
                     for s in samples]}


@dataclass
class Tool:
    cmd: list[str]  # the whole run, every page
    only: Callable[[FixturePage], list[str]]  # arguments that restrict `cmd` to one page
    env: dict[str, str]
    browser: str
    profiles: bool = False  # takes `--profile FILE`


def archiver_run(registry: Path) -> list[str]:
    """Our whole run over `registry`, as every set runs it."""
    return [str(BIN / "archiver"), "-q", "--registry", str(registry), "run", "--json", "--reason", "bench",
            "--by", "bench"]


def tools_for(tmp: Path, base_url: str, pages: list[FixturePage]) -> dict[str, Tool]:
    """Each tool's command line and environment, with its input files written to `tmp`."""
    (tmp / "pages.yaml").write_text(register_yaml(pages, base_url, tmp / "store"), encoding="utf-8")
    (tmp / "shots.yml").write_text(shots_yaml(pages, base_url, tmp / "png"), encoding="utf-8")
    (tmp / "png").mkdir()
    shot_env, shot_browser = playwright_env(tmp)
    return {
        "archiver": Tool(archiver_run(tmp / "pages.yaml"), lambda p: ["--page", p.id], dict(os.environ),
                         find_browser().executable or "Playwright's own Chromium", profiles=True),
        "shot-scraper": Tool([str(BIN / "shot-scraper"), "multi", str(tmp / "shots.yml"), "--silent",
                              *(f"--browser-arg={flag}" for flag in QUIET_FLAGS)],
                             lambda p: ["-o", f"{tmp / 'png' / p.id}.png"], shot_env, shot_browser),
    }


def _plain_set(tmp: Path):
    """Ten ordinary feed pages (bench/pages.py) and the 60,000 px page."""
    pages = write_site(tmp / "site") + [TALL]
    return pages, serve_directory(tmp / "site", routes={TALL.path: tall_page(TALL.height_px)})


def _heavy_set(tmp: Path):
    """Consent managers, lazy images and late feeds from real packages (bench/heavy.py)."""
    return heavy.PAGES, heavy.serve()


SETS = {"plain": _plain_set, "heavy": _heavy_set}


def bench(tmp: Path, set_name: str = "plain") -> dict:
    """Serve the set's pages, run every measurement REPEATS times (tools interleaved), return the figures.

    No untimed warm-up run: the launch probe has already read Chromium from disk, and the median
    discards a first run that is slow for any other reason.
    """
    started, busy_start = time.perf_counter(), _machine_cpu_seconds()
    tmp.mkdir(parents=True, exist_ok=True)
    pages, server = SETS[set_name](tmp)
    with server as base_url:
        tools = tools_for(tmp, base_url, pages)
        runs: dict[str, dict[str, list[Sample]]] = {name: {} for name in tools}
        for rep in range(REPEATS):
            print(f"bench: round {rep + 1} of {REPEATS}", file=sys.stderr, flush=True)
            for name, tool in tools.items():
                runs[name].setdefault("all", []).append(_measure_tool(tool, [], tmp, name))
            for page in pages:
                for name, tool in tools.items():
                    runs[name].setdefault(page.id, []).append(_measure_tool(tool, tool.only(page), tmp, name))
    wall = time.perf_counter() - started
    times = psutil.Process().cpu_times()
    ours = times.user + times.system + sum(s.cpu_s for by_key in runs.values() for samples in by_key.values()
                                           for s in samples)
    others = max(_machine_cpu_seconds() - busy_start - ours, 0) / wall  # a busy machine makes figures noisy
    per_page_profiles = {key: [s.profile for s in samples] for key, samples in runs["archiver"].items()
                         if key != "all"}
    profile = step_table(per_page_profiles)
    measured_alone = sum(statistics.median(s.seconds for s in samples) for key, samples in runs["archiver"].items()
                         if key != "all")
    all_profile = step_table({"all": [s.profile for s in runs["archiver"]["all"]]})
    results = {}
    for name, by_key in runs.items():
        all_pages = summarise(by_key.pop("all"))
        results[name] = {"all_pages": all_pages,
                         "pages_per_minute": round(len(pages) * 60 / all_pages["seconds"], 1),
                         "per_page": {key: summarise(samples) for key, samples in by_key.items()}}
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                    "python": platform.python_version(),
                    "other_processes_cpus": round(others, 2)},
        "bench_seconds": round(wall),
        "repeats": REPEATS, "statistic": "median",
        "pages": [asdict(p) for p in pages],
        "browsers": {name: tool.browser for name, tool in tools.items()},
        "tools": results,
        "ratio_shot_scraper_over_archiver_all_pages": round(
            results["shot-scraper"]["all_pages"]["seconds"] / results["archiver"]["all_pages"]["seconds"], 2),
        "set": set_name,
        "shot_scraper_tall_page_rows_wrong": wrong_rows(tmp / "png" / f"{TALL.id}.png") if TALL in pages else None,
        "archiver_profile": {"pages_alone": profile, "pages_alone_measured_s": round(measured_alone, 2),
                             "pages_alone_covered": round(covered(profile, measured_alone), 3),
                             "all_pages": all_profile},
        "notes": NOTES,
    }


def _scale(tmp: Path) -> dict:
    """The scale set (bench/scale.py): our runs of 10 and 100 pages and of one 100,000 px page."""
    return run_scale(tmp, lambda cmd, log: measure(cmd, dict(os.environ), log), register_yaml, archiver_run)


def _compare(tmp: Path) -> dict:
    """The compare set (bench/compare.py): `bundles compare` on two 60,000 px captures."""
    return run_compare(tmp, lambda cmd, log: measure(cmd, dict(os.environ), log), register_yaml, archiver_run, BIN)


def _recording(tmp: Path) -> dict:
    """The recording set (bench/recording.py): the plain set with and without the WACZ."""
    return run_recording(tmp, lambda cmd, log: measure(cmd, dict(os.environ), log), register_yaml, archiver_run,
                         REPEATS, TALL)


def _measure_tool(tool: Tool, extra: list[str], tmp: Path, name: str) -> Sample:
    profile = tmp / f"{name}-profile.json" if tool.profiles else None
    return measure(tool.cmd + extra + (["--profile", str(profile)] if profile else []), tool.env,
                   tmp / f"{name}.log", profile)


def _machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy so far, all CPUs added up."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + sum(getattr(t, field, 0) for field in ("irq", "softirq", "steal"))


def wrong_rows(png: Path) -> int:
    """How many rows of shot-scraper's capture of the tall page differ from the page's known pixels
    (`expected_row_colour`), so the report states what happened rather than what might."""
    Image.MAX_IMAGE_PIXELS = None  # a 60,000 px page is big on purpose
    with Image.open(png) as img:
        rgb = img.convert("RGB")
    width, height = rgb.size
    data = rgb.tobytes()
    wrong = sum(data[y * width * 3:(y + 1) * width * 3] != bytes(expected_row_colour(y)) * width
                for y in range(height))
    return wrong + abs(TALL.height_px - height)


NOTES = [
    ("archiver: the page in exact clipped captures cut into tiles, every seam between captures checked by "
     "captures that overlap, then a PDF/A-2b built, "
     "validated and stored with its manifest and catalog entry; 2 pages at once, one browser context each."),
    ("shot-scraper: Playwright's plain full_page screenshot, one capture of the whole page that nothing "
     "checks (past Chromium's 16,384 px texture limit it can repeat or blend rows, and go white below "
     "about 87,000 px); PNG files only, no PDF, manifest or catalog; pages one after another in one "
     "browser context."),
    ("memory: peak of the summed RSS of the process tree (Python, Playwright's driver, Chromium), sampled "
     "every 50 ms; memory shared between Chromium's processes counts once per process, for both tools."),
]


def report(figures: dict) -> str:
    """The plain table printed at the end; the same figures as output/bench.json."""
    ours, theirs = figures["tools"]["archiver"], figures["tools"]["shot-scraper"]
    count = len(figures["pages"])
    lines = [f"{'':30}{'archiver (PDF/A)':>24}{'shot-scraper (PNG)':>24}",
             f"{'':30}{'seconds':>12}{'peak MB':>12}{'seconds':>12}{'peak MB':>12}"]

    def row(label: str, a: dict, b: dict) -> str:
        return f"{label:30}{a['seconds']:>12.2f}{a['peak_mb']:>12}{b['seconds']:>12.2f}{b['peak_mb']:>12}"

    lines.append(row(f"all {count} pages", ours["all_pages"], theirs["all_pages"]))
    lines.append(f"{'  pages per minute':30}{ours['pages_per_minute']:>12}{'':12}"
                 f"{theirs['pages_per_minute']:>12}")
    lines.append("each page alone:")
    for page in figures["pages"]:
        label = f"  {page['id']}" + (f" ({page['height_px']:,} px)" if page["height_px"] else "")
        lines.append(row(label, ours["per_page"][page["id"]], theirs["per_page"][page["id"]]))
    profile = figures["archiver_profile"]
    lines += ["", *report_lines(profile["pages_alone"], profile["pages_alone_measured_s"], count), "",
              *report_lines(profile["all_pages"], ours["all_pages"]["seconds"], count,
                            title=f"where archiver's time goes, all {count} pages in one run (seconds; the "
                                  "pages overlap, so their steps add up to more than 'captures'):")]
    ratio = figures["ratio_shot_scraper_over_archiver_all_pages"]
    wrong, browsers = figures["shot_scraper_tall_page_rows_wrong"], figures["browsers"]
    lines += [
        "",
        f"shot-scraper time / archiver time, all {count} pages: {ratio:.2f} (>1 means archiver is faster)",
        f"median of {figures['repeats']} runs each; whole commands: start, browser, pages, output written.",
        f"browsers: archiver {browsers['archiver']}; shot-scraper {browsers['shot-scraper']}",
        *(f"note: {note}" for note in figures["notes"]),
    ]
    if figures["set"] == "heavy":
        lines.append("note: shot-scraper takes these pages as they first appear: it answers no consent dialog, "
                     "scrolls no feed and waits for no lazy image, all of which archiver does.")
    if wrong is not None:
        lines.append(f"note: here shot-scraper's {TALL.height_px:,} px PNG had {wrong} row(s) differing from the page"
                     + (" (exact this time, with this Chromium; nothing checks it)." if wrong == 0 else "."))
    other, cpus = figures["machine"]["other_processes_cpus"], figures["machine"]["cpus"]
    if other > 0.2:
        lines.append(f"WARNING: other processes kept {other:.1f} of {cpus} CPUs busy during the bench: "
                     "these figures are noisy; run again on an idle machine.")
    lines.append(f"the bench took {figures['bench_seconds']} s")
    return "\n".join(lines)


def main() -> int:
    """Each set of BENCH_SETS (default all: plain, heavy, scale, recording, queue, compare) in turn; output/bench.json holds them
    by name."""
    known = (*SETS, "scale", "recording", "queue", "compare")  # these four: ours alone; the others both tools
    names = [n for n in os.environ.get("BENCH_SETS", ",".join(known)).split(",") if n]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"bench: BENCH_SETS names no set {', '.join(unknown)}; the sets are {', '.join(known)}")
    figures = {}
    with tempfile.TemporaryDirectory(prefix="archiver-bench-") as tmp:
        for name in names:
            print(f"bench: the {name} set", file=sys.stderr, flush=True)
            alone = {"scale": _scale, "recording": _recording, "queue": lambda t: run_queue(t, register_yaml, _sample_tree),
                     "compare": _compare}
            figures[name] = alone[name](Path(tmp) / name) if name in alone else bench(Path(tmp) / name, name)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, one in figures.items():
        reporter = {"scale": scale_report, "recording": recording_report, "queue": queue_report,
                    "compare": compare_report}.get(name, report)
        print(f"\n=== the {name} set ===\n{reporter(one)}")
    print(f"\nfigures written to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
