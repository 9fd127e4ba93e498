"""The web page's Swedish: names for the catalog's codes, times in Swedish time, and the texts people read.

Kept apart from the routes so a change of wording never touches access control.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from archiver.bundle.cover import PLATFORM_NAMES  # noqa: F401 - the same names as on the cover
from archiver.web import accounts

LOCAL_TZ = ZoneInfo("Europe/Stockholm")

KIND_NAMES = {"scheduled": "Schemalagd", "pre-change": "Före ändring", "manual": "Manuell",
              "retry": "Omtagning", "post": "Enskilt inlägg"}
RUN_STATUS_NAMES = {"complete": "Komplett", "partial": "Delvis", "failed": "Misslyckad"}
PAGE_STATUS_NAMES = {"ok": "Sparad", "failed": "Misslyckades"}
JOB_STATE_NAMES = {"running": "Pågår", "done": "Klar", "partial": "Klar, men med fel", "failed": "Misslyckades"}
ACTION_NAMES = {
    "login": "Inloggning", "login.failed": "Misslyckad inloggning", "logout": "Utloggning",
    "snapshot.requested": "Ögonblicksbild begärd", "snapshot.failed": "Ögonblicksbild misslyckades",
    "bundle.created": "Paket skapat", "bundle.downloaded": "Nedladdning", "bundle.verified": "Verifiering",
    "bundle.registered": "Diarienummer registrerat", "user.added": "Användare tillagd",
    "user.disabled": "Användare inaktiverad", "post.captured": "Inlägg sparat",
    "bundle.exported": "Exporterat till e-arkivet", "bundle.deleting": "Gallras",
    "bundle.delete_failed": "Gallring misslyckades", "bundle.deleted": "Gallrat",
    "bundle.registering": "Diarienummer registreras", "bundle.register_abandoned": "Registrering avbröts",
    "post.requested": "Inlägg begärt", "post.failed": "Inlägg misslyckades",
    "post.done": "Åtgärden markerad som utförd", "post.released": "Beviset frigjort",
    "bundle.replayed": "Uppspelning av webbarkivet",
}
RETENTION_RULES = {  # retention.Decision.rule, in the words of the records plan
    "registered": "Diariefört – gallras aldrig",
    "decision": "Beslut – väntar på diarienummer",
    "evidence_kept": "Bevis – sparas tills det frigörs",
    "action_open": "Åtgärd – sparas tills åtgärden är utförd",
    "locked": "Låst i S3 (Object Lock) – kan inte raderas än",
    "released": "Beviset är frigjort",
    "done": "Åtgärden är utförd",
}
POST_CLASS_NAMES = {
    "decision": "Beslut – diarieförs och bevaras",
    "action": "Åtgärd – får gallras när åtgärden är utförd",
    "evidence": "Bevis – brottsligt innehåll inför polisanmälan, sparas tills det frigörs",
}
POST_CLASS_SHORT = {key: name.split(" – ")[0] for key, name in POST_CLASS_NAMES.items()}  # "Bevis"
NOTICES = {"registrerad": "Diarienumret är registrerat.", "utford": "Åtgärden är markerad som utförd.",
           "frigjord": "Beviset är frigjort och får nu gallras.", "verifierad": "Paketet är verifierat, se resultatet nedan.",
           "tillagd": "Användaren är tillagd.", "inaktiverad": "Användaren är inaktiverad."}
ERROR_TITLES = {400: "Felaktig begäran", 401: "Inte inloggad", 403: "Åtkomst nekad", 404: "Hittades inte",
                405: "Metoden är inte tillåten", 409: "Upptaget", 500: "Internt fel"}
ERROR_TEXTS = {
    400: "Begäran kunde inte tolkas.",
    403: "Du har inte behörighet till den här sidan eller åtgärden.",
    404: "Sidan eller paketet finns inte.",
    405: "Den här adressen tar inte emot den sortens begäran.",
    500: "Något gick fel på servern. Försök igen, eller kontakta IT-avdelningen.",
}
DETAIL_NAMES = {"reason": "orsak", "failed": "misslyckade", "file": "fil", "dnr": "diarienummer", "page": "sida",
                "job": "körning", "remote": "från adress", "name": "namn", "role": "roll", "error": "fel",
                "files": "filer", "to": "till", "why": "varför", "ok": "godkänd", "class": "klass",
                "url": "adress", "status": "status", "format": "format", "case_title": "ärendemening",
                "classification": "klassificering", "document_no": "löpnummer", "document_title": "handlingens titel",
                "secrecy": "sekretess"}
BUSY_TEXT = "Upptaget – en annan körning pågår, försök igen senare"


def local_time(value: datetime | None, with_seconds: bool = False) -> str:
    if value is None:
        return "–"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def reason_text(reason: str) -> str:
    if reason == "scheduled":
        return "Schemalagd"
    if reason.startswith("pre-change:"):
        return "Före ändring: " + reason.removeprefix("pre-change:").strip()
    return reason


def detail_text(detail) -> str:
    """An audit entry's detail as short Swedish text (empty values left out)."""
    if not isinstance(detail, dict):
        return "" if detail is None else str(detail)
    parts = []
    for key, value in detail.items():
        if value in (None, "", [], {}):
            continue
        if key == "reason" and isinstance(value, str):
            value = reason_text(value)
        if key == "role":
            value = accounts.ROLE_NAMES.get(value, value)
        if key == "class":
            value = POST_CLASS_SHORT.get(value, value)
        if key == "status":
            value = PAGE_STATUS_NAMES.get(value, value)
        if isinstance(value, list | tuple):
            value = ", ".join(map(str, value))
        parts.append(f"{DETAIL_NAMES.get(key, key)}: {value}")
    return "; ".join(parts)


CHECK_NAMES = (  # verify.py's check names, in Swedish for the bundle page (the English stays beside it)
    (re.compile(r"^manifest readable$"), "manifest.json går att läsa"),
    (re.compile(r"^PDF present$"), "PDF-filen finns"),
    (re.compile(r"^PDF readable$"), "PDF-filen går att läsa"),
    (re.compile(r"^PDF SHA-256 matches manifest$"), "PDF-filens kontrollsumma stämmer med manifestet"),
    (re.compile(r"^PDF SHA-256 matches catalog$"), "PDF-filens kontrollsumma stämmer med katalogen"),
    (re.compile(r"^manifest SHA-256 matches catalog$"), "Manifestets kontrollsumma stämmer med katalogen"),
    (re.compile(r"^PDF/A-(\w+) valid"), r"Giltig PDF/A-\1"),
    (re.compile(r"^pixels of (.+) match manifest$"), r"Bildpunkterna i \1 stämmer med manifestet"),
    (re.compile(r"^no trusted timestamp.*"), "Ingen betrodd tidsstämpel"),
    (re.compile(r"^trusted timestamp.*"), "Betrodd tidsstämpel (RFC 3161)"),
)


def check_text(name: str) -> str:
    for pattern, swedish in CHECK_NAMES:
        if pattern.search(name):
            return pattern.sub(swedish, name)  # what a pattern leaves unmatched (a validator's name) stays
    return name
