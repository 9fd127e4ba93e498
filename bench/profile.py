"""Where archiver's time goes: the per-step profiles (`archiver run --profile`) of the bench's runs, as a table.

Each archiver command in the bench writes its profile (archiver/profile.py): the run's steps (start-up,
browser start, captures, PDF build, PDF/A validation, manifest, store, catalog, what no step covers) and
each page's capture-script steps, with wall seconds and CPU seconds of our process, Playwright's driver and
Chromium. The table adds them up over the pages measured alone (the median of the repeats per page, so one
page at a time: each step's CPU is its own), and says how much of the measured wall time they cover.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

FIELDS = ("wall_s", "cpu_s", "driver_cpu_s", "browser_cpu_s")
CAPTURES = "captures"  # the run step that the page steps break down


def _medians(profiles: list[dict]) -> dict:
    """One profile from the repeats of one command: each step summed within a run (a run of several pages has
    each page step once per page), then the median over the repeats; steps keep their order."""
    steps: dict[str, dict[str, list[float]]] = {}
    for profile in profiles:
        sums: dict[str, dict[str, float]] = {}
        for step in profile["run"] + [dict(s, page=True) for page in profile["pages"].values() for s in page]:
            if "within" in step:
                continue
            entry = sums.setdefault(("page: " if step.get("page") else "") + step["name"], dict.fromkeys(FIELDS, 0.0))
            for field in FIELDS:
                entry[field] += step.get(field, 0.0)
        for key, figures in sums.items():
            for field, value in figures.items():
                steps.setdefault(key, defaultdict(list))[field].append(value)
    return {key: {f: statistics.median(v) for f, v in entry.items()} for key, entry in steps.items()}


def step_table(per_page: dict[str, list[dict]]) -> dict:
    """Each step's figures summed over the pages (each the median of its repeats), in the run's order, with
    the capture-script steps under `captures`; and the measured wall time they should add up to."""
    totals: dict[str, dict[str, float]] = {}
    for profiles in per_page.values():
        for key, figures in _medians(profiles).items():
            entry = totals.setdefault(key, dict.fromkeys(FIELDS, 0.0))
            for field in FIELDS:
                entry[field] += figures.get(field, 0.0)
    return {key: {f: round(v, 3) for f, v in figures.items()} for key, figures in totals.items()}


def covered(table: dict, measured_s: float) -> float:
    """The run-level steps' wall time (page steps excluded: they are inside `captures`) over the measured."""
    run_wall = sum(figures["wall_s"] for key, figures in table.items() if not key.startswith("page: "))
    return run_wall / measured_s if measured_s else 0.0


def report_lines(table: dict, measured_s: float, pages: int, title: str | None = None) -> list[str]:
    lines = [title or f"where archiver's time goes, the {pages} pages each alone, added up (seconds):",
             f"{'step':34}{'wall':>9}{'our CPU':>9}{'driver':>9}{'Chromium':>10}"]
    page_steps = [key for key in table if key.startswith("page: ")]
    for key in [k for k in table if k not in page_steps]:
        for row in [key, *(page_steps if key == CAPTURES else [])]:
            figures, label = table[row], f"    {row[6:]}" if row in page_steps else row
            lines.append(f"{label:34}{figures['wall_s']:>9.2f}{figures['cpu_s']:>9.2f}"
                         f"{figures['driver_cpu_s']:>9.2f}{figures['browser_cpu_s']:>10.2f}")
    lines.append(f"(indented: the capture script's steps, inside '{CAPTURES}'; the run's steps cover "
                 f"{covered(table, measured_s):.0%} of the {measured_s:.2f} s measured)")
    return lines
