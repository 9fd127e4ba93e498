"""Per-page progress of a run on stderr: a rich progress display on a terminal, plain lines otherwise.

In JSON log mode nothing is printed here: capture_page's own log lines (with run and page ids) say it,
so every stderr line stays a JSON object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from archiver.cli import common
from archiver.models import PageCapture


@contextmanager
def page_progress(total: int, as_json: bool) -> Iterator[Callable[[PageCapture], None]]:
    """Yields the pipeline's `on_page` callback for a run of `total` captures."""
    if common.log_mode == "rich" and common.rich_console is not None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=common.rich_console, transient=True) as progress:
            task = progress.add_task("capturing", total=total)

            def on_rich(capture: PageCapture) -> None:
                mark = "[green]ok[/]" if capture.ok else f"[red]FAILED[/]: {capture.error}"
                progress.console.print(f"  {capture.label}: {mark}", markup=True, highlight=False)
                progress.advance(task)

            yield on_rich
        return

    def on_plain(capture: PageCapture) -> None:
        if not as_json and common.log_mode == "plain":
            mark = "ok" if capture.ok else f"FAILED: {capture.error}"
            click.echo(f"  {capture.label}: {mark}", err=True)

    yield on_plain
