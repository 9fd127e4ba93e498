"""A registration as a registrar files it: a document (handling) in a case (ärende).

Swedish municipalities register captures as documents of a case with a diarienummer, the case's title
(ärendemening), a code from the organisation's classification structure (klassificeringsstruktur), the
document's running number in the case (löpnummer) and whether it is secret under the Public Access to
Information and Secrecy Act (OSL). Many keep one collective case a year for all social-media captures:
with `registration: {collective_case: yearly}` the year's first registration opens that case and the
following ones join it as the next documents, without the registrar typing the number again.

`plan` works the whole record out from what the registrar gave, the register's defaults and what the
catalog already knows (passed in as functions, so it is tested without a catalog); it refuses anything
that would make the case disagree with itself. `archiver.services.Services.register_bundle` stores it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from archiver.errors import BadInputError

TIME_ZONE = ZoneInfo("Europe/Stockholm")  # which year a capture belongs to: the organisation's calendar
SECRECY_PATTERN = re.compile(r"OSL:(\d{1,2}):(\d{1,3}\s?[a-z]?)")
DEFAULT_CASE_TITLE = "Dokumentation av sociala medier {year}"
MAX_TEXT = 300
SV_WHAT = {"title": "ärendemeningen", "classification": "klassificeringen"}
CASE_FIELDS = ("case_title", "classification", "document_no", "document_title", "secrecy")


class RegistrationRefused(BadInputError):
    """A registration that would make a case disagree with itself; `sv` says it on the web page."""

    def __init__(self, message: str, sv: str):
        super().__init__(message)
        self.sv = sv


@dataclass(frozen=True)
class RegistrationRequest:
    """What the registrar gives (`archiver register`, the web page's form); None: work it out."""

    by: str
    dnr: str | None = None
    case_title: str | None = None
    classification: str | None = None
    document_no: int | None = None
    secrecy: str | None = None


@dataclass(frozen=True)
class Plan:
    """The registration to record (`entry`, as the manifest and catalog keep it) and, when it opens one,
    the case (`new_case`)."""

    entry: dict
    new_case: dict | None = None
    notes: list[str] = field(default_factory=list)


def parse_secrecy(text: str | None) -> str:
    """'none' or 'OSL:<chapter>:<section>' (e.g. 'OSL:21:7'), normalised; anything else is refused."""
    value = " ".join((text or "none").split())
    if value.lower() in ("none", "ingen", ""):
        return "none"
    match = SECRECY_PATTERN.fullmatch(value.replace(" ", "")) or SECRECY_PATTERN.fullmatch(value)
    if not match:
        raise RegistrationRefused(f"secrecy must be 'none' or 'OSL:<chapter>:<section>', e.g. OSL:21:7 (got {text!r})",
                                  "Sekretess anges som kapitel och paragraf i OSL, till exempel 21 kap. 7 §.")
    return f"OSL:{int(match.group(1))}:{match.group(2).replace(' ', '')}"


def secrecy_words(secrecy: str | None) -> str | None:
    """The legal basis in the words a Swedish registrar writes it; None when nothing is secret."""
    if not secrecy or secrecy == "none":
        return None
    _law, chapter, section = secrecy.split(":")
    return f"{chapter} kap. {section} § offentlighets- och sekretesslagen (2009:400)"


def capture_year(manifest: dict) -> int:
    """The year (Swedish time) the bundle's capture began: the year whose collective case it joins."""
    started = datetime.fromisoformat(manifest["run_start"])
    return started.astimezone(TIME_ZONE).year


def document_title(manifest: dict) -> str:
    """The document's title in the case: what was captured, when and why, in Swedish."""
    started = datetime.fromisoformat(manifest["run_start"]).astimezone(TIME_ZONE)
    pages = manifest.get("pages") or []
    if manifest.get("post"):
        what = f"Inlägg på {pages[0]['id']}" if pages else "Inlägg"
    elif len(pages) == 1:
        what = f"Skärmbilder av {pages[0]['id']}"
    else:
        what = f"Skärmbilder av {len(pages)} sidor i sociala medier"
    reason = manifest.get("reason") or ""
    why = "halvårsvis" if reason == "scheduled" else reason
    return f"{what} {started:%Y-%m-%d}" + (f" ({why})" if why else "")


def _clean(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if len(value) > MAX_TEXT:
        raise RegistrationRefused(f"the {what} may be at most {MAX_TEXT} characters (got {len(value)})",
                                  f"Texterna får vara högst {MAX_TEXT} tecken.")
    return value or None


def plan(request: RegistrationRequest, manifest: dict, *, collective: str = "none",
         default_title: str | None = None, default_classification: str | None = None,
         case_for: Callable[[str], dict | None], collective_case_for: Callable[[int], dict | None],
         documents_of: Callable[[str], dict[int, str]]) -> Plan:
    """The whole registration of the bundle whose manifest is `manifest`.

    `case_for(dnr)`: the case the catalog has under that number, or None; `collective_case_for(year)`: the
    year's collective case or None; `documents_of(dnr)`: its document numbers, each to its bundle id.
    """
    dnr = _clean(request.dnr, "diarienummer")
    title = _clean(request.case_title, "case title")
    classification = _clean(request.classification, "classification")
    secrecy = parse_secrecy(request.secrecy)
    if request.document_no is not None and not 1 <= request.document_no <= 999_999:
        raise RegistrationRefused(f"the document number must be 1 to 999999 (got {request.document_no})",
                                  "Löpnumret ska vara ett heltal från 1 till 999999.")
    year = capture_year(manifest)
    notes = []
    year_case = collective_case_for(year) if collective == "yearly" else None
    if dnr is None:
        if collective != "yearly":
            raise RegistrationRefused("give the diarienummer (--dnr); without a yearly collective case in the "
                                      "register (registration: {collective_case: yearly}) there is no case to join",
                                      "Skriv diarienumret.")
        if year_case is None:
            raise RegistrationRefused(f"there is no collective case for {year} yet: give its diarienummer (--dnr) "
                                      f"with the year's first registration, which opens it",
                                      f"Det finns inget samlingsärende för {year} än. Skriv diarienumret: "
                                      "årets första registrering öppnar ärendet.")
        dnr = year_case["dnr"]
    case = case_for(dnr)
    new_case = None
    if case is not None:
        for given, kept, what in ((title, case.get("title"), "title"), (classification, case.get("classification"),
                                                                        "classification")):
            if given is not None and given != kept:
                raise RegistrationRefused(f"case {dnr} already has the {what} {kept!r}; a document cannot give it "
                                          f"{given!r} (leave it out to use the case's)",
                                          f"Ärendet {dnr} har redan {SV_WHAT[what]} {kept!r}. Lämna fältet tomt.")
        title, classification = case.get("title"), case.get("classification")
    else:
        opens_year = collective == "yearly" and year_case is None
        template = default_title or DEFAULT_CASE_TITLE
        title = title or template.replace("{year}", str(year))
        classification = classification or default_classification
        new_case = {"dnr": dnr, "title": title, "classification": classification,
                    "collective_year": year if opens_year else None}
        notes.append(f"opens case {dnr}" + (f", the collective case for {year}" if opens_year else ""))
    used = documents_of(dnr) if case is not None else {}
    number = request.document_no
    if number is None:
        number = max(used, default=0) + 1
    elif number in used:
        raise RegistrationRefused(f"document {number} of case {dnr} is already bundle {used[number]}; "
                                  f"the next free number is {max(used) + 1}",
                                  f"Handling {number} i ärendet {dnr} finns redan (paket {used[number]}). "
                                  f"Nästa lediga löpnummer är {max(used) + 1}.")
    entry = {"dnr": dnr, "registered_by": request.by, "case_title": title, "classification": classification,
             "document_no": number, "document_title": document_title(manifest), "secrecy": secrecy}
    return Plan(entry, new_case, notes)
