"""A finished capture kept between its job and the bundle's assembly: a folder with `capture.json` (the
PageCapture, with paths relative to the folder) and the files it names (tiles, the WARC).

A capture is made into a hidden `.partial-*` folder and renamed into place only once complete, so a
worker killed mid-capture leaves nothing the assembly would read; the first complete parcel of a capture
wins and a later one (a retried job whose first try finished after all) is discarded. The work folder
is `<storage.local>/.queue/<run id>/`, removed once the run's bundle is stored.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path

from archiver.models import PageCapture, Tile

CAPTURE_FILE = "capture.json"
WORK_FOLDER = ".queue"


def work_dir(local_root: Path, run_id: str) -> Path:
    return Path(local_root) / WORK_FOLDER / run_id


def new_partial(run_dir: Path, key: str) -> Path:
    """A fresh hidden folder for one attempt at the capture `key`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    folder = run_dir / f".partial-{key}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


def final(run_dir: Path, key: str) -> Path:
    return run_dir / key


def to_json(capture: PageCapture, folder: Path) -> dict:
    """The capture as plain JSON, its files named relative to `folder` (where they must lie)."""
    data = asdict(capture)
    data["tiles"] = [t | {"path": _inside(t["path"], folder), "png": None} for t in data["tiles"]]
    if data["recording"] is not None:
        data["recording"] = data["recording"] | {"warc_path": _inside(data["recording"]["warc_path"], folder)}
    if data["screenshot"] is not None:
        data["screenshot"] = data["screenshot"] | {"path": Path(data["screenshot"]["path"]).name}
    for name in ("started_at", "finished_at"):
        data[name] = data[name].isoformat() if data[name] is not None else None
    return data


def from_json(data: dict, folder: Path) -> PageCapture:
    known = {f.name for f in fields(PageCapture)}
    values = {k: v for k, v in data.items() if k in known}
    values["tiles"] = [Tile(**(t | {"path": folder / t["path"] if t["path"] else None})) for t in data["tiles"]]
    if values.get("recording") is not None:
        values["recording"] = values["recording"] | {"warc_path": folder / values["recording"]["warc_path"]}
    if values.get("screenshot") is not None:
        values["screenshot"] = values["screenshot"] | {"path": folder / values["screenshot"]["path"]}
    for name in ("started_at", "finished_at"):
        values[name] = datetime.fromisoformat(values[name]) if values.get(name) else None
    return PageCapture(**values)


def _inside(path, folder: Path) -> str | None:
    if path is None:
        return None
    return str(Path(path).resolve().relative_to(folder.resolve()))


def seal(capture: PageCapture, partial: Path, run_dir: Path) -> Path:
    """Write `capture.json`, make it durable and rename the attempt's folder into place; the parcel's folder.

    When another attempt sealed the same capture first, that one is kept and this attempt's folder goes."""
    target = final(run_dir, capture.key)
    data = json.dumps(to_json(capture, partial), ensure_ascii=False).encode("utf-8")
    path = partial / CAPTURE_FILE
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    for name in os.listdir(partial):
        with open(partial / name, "rb") as written:
            os.fsync(written.fileno())
    try:
        os.rename(partial, target)  # fails when `target` exists (a non-empty folder): the first one wins
    except OSError:
        if not (target / CAPTURE_FILE).exists():
            raise
        shutil.rmtree(partial, ignore_errors=True)
        return target
    fd = os.open(run_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


def load(run_dir: Path, key: str) -> PageCapture | None:
    """The sealed capture `key`, or None when there is none."""
    folder = final(run_dir, key)
    try:
        data = json.loads((folder / CAPTURE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return from_json(data, folder)
