"""The cover pages: what a person opening the bundle years later needs to read first.

What was captured and whether it worked, when, why and for whom, with which tools, what the capture
answered or closed on the page, and the checksums that prove the images are unchanged. Swedish,
with the English term where a registrar might need it.
"""

from __future__ import annotations

from datetime import datetime

from fpdf.fonts import FontFace

from archiver.models import PageCapture

PLATFORM_NAMES = {"facebook": "Facebook", "instagram": "Instagram", "x": "X", "youtube": "YouTube",
                  "linkedin": "LinkedIn", "tiktok": "TikTok", "generic": "Webbplats"}
FAILURES = {
    "login_wall": "webbplatsen visade en inloggningssida i stället för kontot",
    "session_expired": "den sparade inloggningen har gått ut",
    "unavailable": "sidan eller kontot finns inte eller är inte tillgängligt",
    "timeout": "sidan blev inte klar inom tidsgränsen",
    "http": "webbservern svarade med ett fel",
    "error": "webbläsaren kunde inte visa sidan",
    "blocked": "adressen leder till ett internt eller privat nätverk, som arkiveringen inte får nå",
    "browser": "webbläsaren stängdes gång på gång och startades inte igen",
}
DISMISSED_KIND = {"consent": "Cookie-dialog", "popup": "Pop-up", "overlay": "Täckande lager", "banner": "Banner",
                  "leftover": "Kvar efter dialog"}
DISMISSED_HOW = {"autoconsent": "besvarad automatiskt", "clicked": "stängd med", "removed": "dold",
                 "undone": "återställt:"}
# The records plan's classes in the words of the plan, and what happens to each capture.
POST_CLASSES_SV = {
    "decision": "Leder till beslut – diarieförs och bevaras",
    "action": "Leder till åtgärd – får gallras när åtgärden är utförd",
    "evidence": "Bevis om brottsligt innehåll (t.ex. hot, hets mot folkgrupp) inför polisanmälan – "
                "sparas tills det frigörs",
}
MARGIN = 40.0
HEADINGS = FontFace(emphasis="", fill_color=(225, 230, 240))  # only a regular weight is embedded


def fmt(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "–"


def reason_in_words(reason: str) -> str:
    if reason == "scheduled":
        return "Schemalagd dokumentation (var sjätte månad enligt riktlinjerna för sociala medier)"
    if reason.startswith("pre-change: "):
        return f"Före en större ändring: {reason.removeprefix('pre-change: ')}"
    return reason


def _heading(doc, text: str) -> None:
    doc.ln(6)
    doc.set_font("Body", size=12)
    doc.cell(0, 18, text, new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Body", size=9)


def _dismissed_in_words(capture: PageCapture) -> list[str]:
    words = []
    for item in capture.dismissed:
        kind = DISMISSED_KIND.get(item.get("kind"), item.get("kind", ""))
        how = DISMISSED_HOW.get(item.get("how"), item.get("how", ""))
        if item.get("kind") == "consent" and item.get("choice") in ("reject", "accept"):
            how = "besvarad med"  # an answer, not a close
        label = item.get("label") or ""
        note = " (sparat utan att något valfritt var ikryssat)" if item.get("note") else ""
        words.append(f"{kind} {how}" + (f" «{label}»" if label else "") + note)
    return words


FEED_CUT_SV = {"max_posts": "gränsen för antal inlägg (capture.max_posts)",
               "max_height_px": "gränsen för sidans höjd (capture.max_height_px)",
               "time budget": "tidsgränsen för rullning (capture.scroll_budget_s)"}


def feed_in_words(scroll: dict) -> str | None:
    """Whether the capture holds the whole feed: it ended by itself, or a limit cut it (a warning)."""
    if not scroll.get("feed"):
        return None
    posts = f"{scroll['posts']} inlägg, " if scroll.get("posts") else ""
    if scroll["feed"] == "ended":
        return f"flödet tog slut ({posts}{scroll.get('height_px', 0)} px)"
    return (f"FLÖDET AVBRÖTS av {FEED_CUT_SV.get(scroll.get('cut_by'), scroll.get('cut_by'))} vid {posts}"
            f"{scroll.get('height_px', 0)} px; sidan kan ha fler inlägg längre ner")


def _post_facts(captures: list[PageCapture]) -> list[tuple[str, str]]:
    post = next((c.post for c in captures if c.post), None) or {}
    expanded = post.get("expanded") or {}
    facts = [
        ("Inläggets adress (permalink)", post.get("permalink") or post.get("url") or "–"),
        ("Författare som visat", post.get("author") or "– (gick inte att läsa ut)"),
        ("Tid som visat på inlägget", " / ".join(t for t in (post.get("shown_time"), post.get("shown_datetime"))
                                                  if t) or "– (gick inte att läsa ut)"),
        ("Utfällt", f"{expanded.get('clicks', 0)} klick på «Visa mer» och dolda svar"
                    + ("" if post.get("complete", True) else
                       "; OFULLSTÄNDIGT, kvar: " + ", ".join(post.get("remaining") or []))),
    ]
    if post.get("dnr_at_capture"):
        facts.append(("Diarienummer angivet vid fångst", post["dnr_at_capture"]))
    return facts


def draw_cover(doc, run, captures: list[PageCapture], first_pages: dict[str, int] | None) -> None:
    """Draw the cover; `first_pages` (capture key → 1-based PDF page) is None on the measuring pass."""
    doc.add_page()
    doc.set_font("Body", size=20)
    doc.multi_cell(0, 26, "Inlägg i sociala medier" if run.post_class else "Skärmdumpar av sociala medier",
                   new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Body", size=14)
    doc.multi_cell(0, 20, run.organisation, new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    doc.set_font("Body", size=9)
    ok = [c for c in captures if c.ok]
    what = ("ett inlägg eller en kommentarstråd, med dolda delar och svar utfällda," if run.post_class
            else f"{len(captures)} sidor i sociala medier")
    doc.multi_cell(0, 12, (
        f"Paketet visar hur {what} såg ut för en besökare när de fångades. "
        "Varje bild är exakt de pixlar webbläsaren visade, utan förlust; texten i bilderna går att söka i "
        "och markera. Varje bildsida är märkt med sidans adress och tid."), align="L", new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    facts = [
        ("Varför (reason)", reason_in_words(run.reason)),
        ("Beställd av (requested by)", run.requested_by),
        ("När", f"{fmt(run.started_at)} – {fmt(run.finished_at)}"),
        ("Resultat", f"{len(ok)} av {len(captures)} sidor fångade"
                     + ("" if len(ok) == len(captures) else f"; {len(captures) - len(ok)} misslyckades")),
        ("Paket-id (bundle id)", run.bundle_id),
        ("Verktyg och webbläsare", f"{run.tool}; {run.browser}"),
        ("Format", f"PDF/A-{run.pdfa}, med manifest.json bredvid"
                   + (f" och webbarkivet {run.bundle_id}.wacz" if run.wacz else "")),
    ]
    if run.post_class:
        facts.insert(0, ("Klass (dokumenthanteringsplan)", POST_CLASSES_SV.get(run.post_class, run.post_class)))
        facts += _post_facts(captures)
    for key, value in facts:
        doc.set_x(MARGIN)
        doc.cell(150, 13, key)
        doc.multi_cell(0, 13, value, align="L", new_x="LMARGIN", new_y="NEXT")

    if run.wacz:
        _heading(doc, "Webbarkivet (WACZ) av samma besök")
        doc.multi_cell(0, 12, (
            f"Bredvid PDF-filen ligger {run.bundle_id}.wacz, ett webbarkiv (WACZ 1.1.1 med WARC-filer) som spelades "
            "in under samma besök som bilderna: sidornas HTML, bilder, skript och de svar webbläsaren fick. Med det "
            "kan sidorna spelas upp, sökas i och undersökas igen, också det en bild inte visar, som länkar och det "
            "som låg bakom ett klick. Webbarkivet har också en helsidesbild av varje sida med samma pixlar, och "
            "därmed samma kontrollsumma, som bilderna här: det visar att bilderna och webbarkivet kommer från ett "
            "och samma besök. Öppna det med «Spela upp» i arkiveringens webbsida, ReplayWeb.page eller pywb."),
            align="L", new_x="LMARGIN", new_y="NEXT")

    _heading(doc, "Sidor i paketet")
    doc.set_font("Body", size=8)
    with doc.table(col_widths=(70, 205, 95, 75, 70), text_align="LEFT", line_height=10,
                   first_row_as_headings=True, headings_style=HEADINGS) as table:
        table.row(["Sida", "Adress", "Status", "Fångad (UTC)", "PDF-sidor"])
        for capture in captures:
            pages = "–"
            if capture.ok and first_pages is not None:
                first, last = first_pages[capture.key], first_pages[capture.key] + len(capture.tiles) - 1
                pages = f"{first}–{last}" if last > first else str(first)
            status = "Fångad" if capture.ok else f"MISSLYCKADES: {FAILURES.get(capture.failure, 'fel')}"
            when = fmt(capture.started_at).replace(" UTC", "") if capture.started_at else "–"
            name = f"{capture.label}\n{PLATFORM_NAMES.get(capture.platform, capture.platform)}"
            table.row([name, capture.requested_url, status, when, pages if first_pages is not None else "000–000"])

    notes = []
    for capture in captures:
        lines = []
        if capture.final_url and capture.final_url != capture.requested_url:
            lines.append(f"hamnade på {capture.final_url}")
        if not capture.ok:
            lines.append(f"fel: {capture.error}")
        lines += _dismissed_in_words(capture)
        feed = feed_in_words(capture.scroll) if capture.ok and not capture.post else None
        if feed:
            lines.append(feed)
        if capture.truncated:
            lines.append(f"avkortad: sidan var {capture.document_height} px hög, de första {capture.height} px fångades")
        lines += [f"varning: {w}" for w in capture.warnings]
        if lines:
            notes.append(f"{capture.label}: " + "; ".join(lines))
    if notes:
        _heading(doc, "Vad som hände på sidorna")
        doc.set_font("Body", size=8)
        for note in notes:
            doc.multi_cell(0, 10, note, new_x="LMARGIN", new_y="NEXT")
            doc.ln(2)

    _heading(doc, "Kontrollsummor (SHA-256 av bildernas pixlar)")
    doc.set_font("Body", size=7)
    doc.multi_cell(0, 9, (
        "Summan räknas på bildens pixlar (8 bitar RGB, rad för rad uppifrån) och ändras om en enda pixel ändras. "
        "Samma summor står i manifest.json; kommandot archiver bundles verify räknar om dem ur PDF-filen."), align="L",
        new_x="LMARGIN", new_y="NEXT")
    doc.ln(2)
    for capture in ok:
        doc.multi_cell(0, 9, f"{capture.label}, hela sidan: {capture.pixels_sha256}", new_x="LMARGIN", new_y="NEXT")
        for tile in capture.tiles:
            page = "" if first_pages is None else f" (PDF-sida {first_pages[capture.key] + tile.index})"
            doc.multi_cell(0, 9, f"    bild {tile.index + 1} av {len(capture.tiles)}{page}: {tile.pixels_sha256}",
                           new_x="LMARGIN", new_y="NEXT")
