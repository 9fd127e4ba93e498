"""Insamlat: the posts `archiver collect` gathered through the platforms' APIs, each with its comment
thread; removed items (with when they were last seen and first missed) are shown to the registrar, who
answers for them as records, and counted for everyone else."""

from __future__ import annotations

import json

from flask import Blueprint, g, render_template, request

from archiver.collect.render import hidden, text_of
from archiver.web.shared import current_services

bp = Blueprint("collected", __name__)

POSTS_SHOWN = 100


def threads(rows: list[dict], show_removed: bool, page_id: str | None = None) -> tuple[list[dict], int]:
    """The newest posts, each with its thread flattened in order and indented by depth; how many removed
    items were left out. Pure: `rows` are the catalog's collected items."""
    children: dict[str, list[dict]] = {}
    for row in rows:
        if row["kind"] != "post":
            children.setdefault(row["parent_id"], []).append(row)
    left_out = 0

    def shown(row: dict, depth: int) -> dict:
        author, when, text = text_of(row["platform"], json.loads(row["raw"]))
        return {"row": row, "depth": depth, "author": author, "when": when, "text": text,
                "hidden": hidden(json.loads(row["raw"]))}

    def walk(parent: str, depth: int, flat: list[dict]) -> None:
        nonlocal left_out
        for child in sorted(children.get(parent, []), key=lambda c: c["created_at"] or c["first_seen_at"]):
            if child["removed_at"] is not None and not show_removed:
                left_out += 1
                continue
            flat.append(shown(child, min(depth, 3)))
            walk(child["item_id"], depth + 1, flat)

    posts = [r for r in rows if r["kind"] == "post" and (page_id is None or r["page_id"] == page_id)]
    posts.sort(key=lambda r: r["created_at"] or r["first_seen_at"], reverse=True)
    found = []
    for post in posts[:POSTS_SHOWN]:
        if post["removed_at"] is not None and not show_removed:
            left_out += 1
            continue
        flat: list[dict] = []
        walk(post["item_id"], 1, flat)
        found.append({"post": shown(post, 0), "thread": flat})
    return found, left_out


@bp.get("/insamlat")
def collected():
    services = current_services()
    pages = [p for p in services.register.pages if p.api is not None]
    page_id = request.args.get("sida") or None
    show_removed = g.session.user.role == "registrar"
    found, left_out = threads(services.catalog.collected(), show_removed, page_id)
    last = {p.id: services.catalog.last_collection(p.id, ok_only=False) for p in pages}
    return render_template("collected.html", pages=pages, found=found, left_out=left_out, last=last,
                           show_removed=show_removed, page_id=page_id or "")
