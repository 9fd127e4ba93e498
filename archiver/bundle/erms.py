"""The registrar's record in the SIP: `metadata/descriptive/erms.xml` after E-ARK CITS ERMS 2.1.2, the
content type specification FGS Ärendehantering 2.0 is.

One `caseFile` aggregation per case the bundle is registered in, its identifier the diarienummer, with the
case title (ärendemening), the classification code, the organisation as creator and the case's dates; in it
one record, this bundle: its document number (löpnummer), title, the capture's dates, secrecy (a
`restriction` naming its legal basis when secret) and the representations' files as appendices. Valid
against the official, unchanged ERMS 2.1.2 XSD, which the package carries in `schemas/` (tests check it
with lxml and with the JDK's own XML Schema validator).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

from archiver import TOOL_NAME, __version__
from archiver.registration import secrecy_words

ERMS_NS = "https://DILCIS.eu/XML/ERMS"
ERMS_VERSION = "2.1.2"
ERMS_SCHEMA = "ERMS_v2_1_2.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ET.register_namespace("erms", ERMS_NS)
# systemIdentifier must be a UUID made "at the latest at the export": derived from the organisation and the
# diarienummer (the case) or the bundle id (the record), so exporting again gives the same identifiers.
APPENDIX_WORDS = {"PDF": "Skärmbilderna som PDF/A", "WACZ": "Webbarkivet (WARC i WACZ) från samma besök"}
ID_SPACE = uuid.UUID("6d1c2b61-3f0e-4b8e-9a55-5a0d7b1c9e42")


def _e(parent: ET.Element | None, local: str, text: str | None = None, /, **attrs: str) -> ET.Element:
    tag = f"{{{ERMS_NS}}}{local}"
    element = ET.Element(tag, attrs) if parent is None else ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _dates(parent: ET.Element, dates: list[tuple[str, str | None]]) -> None:
    present = [(kind, when) for kind, when in dates if when]
    if present:
        group = _e(parent, "dates")
        for kind, when in present:
            _e(group, "date", when, dateType=kind)


def erms_document(w, files: list[dict], cases: dict[str, dict] | None = None) -> ET.Element | None:
    """erms.xml for the writer `w` (archiver.bundle.eark._Writer: manifest, organisation, time, the
    registrations); `files`: the representations' data files as {"href", "name", "format"}, `href` relative
    to erms.xml; `cases`: the catalog's cases by diarienummer (opened when, collective year), if known.
    None for a bundle that is not registered: it is no document of any case yet."""
    registrations = [r for r in w.registrations if r.get("dnr")]
    if not registrations:
        return None
    organisation = w.organisation
    root = _e(None, "erms", **{f"{{{XSI}}}schemaLocation": f"{ERMS_NS} ../../schemas/{ERMS_SCHEMA}"})
    control = _e(root, "control")
    _e(control, "identification", organisation, identificationType="archivalCreator")
    _e(control, "identification", w.objid, identificationType="packageId")
    maintenance = _e(control, "maintenanceInformation")
    _e(maintenance, "maintenanceStatus", value="new")
    agency = _e(maintenance, "maintenanceAgency")
    _e(agency, "agencyName", organisation)
    history = _e(maintenance, "maintenanceHistory")
    event = _e(history, "maintenanceEvent")
    _e(event, "eventType", value="created")
    _e(event, "eventDateTime", w.now)
    software = _e(event, "agent", agentType="other", otherAgentType="software")
    _e(software, "name", f"{TOOL_NAME} {__version__}")
    aggregations = _e(root, "aggregations")
    for reg in registrations:
        case = (cases or {}).get(reg["dnr"], {})
        _case_file(aggregations, w, reg, case, files)
    return root


def _case_file(parent: ET.Element, w, reg: dict, case: dict, files: list[dict]) -> None:
    organisation = w.organisation
    aggregation = _e(parent, "aggregation", aggregationType="caseFile",
                     systemIdentifier=str(uuid.uuid5(ID_SPACE, f"case|{organisation}|{reg['dnr']}")))
    _e(aggregation, "objectId", reg["dnr"])
    if reg.get("classification"):
        _e(aggregation, "classification", reg["classification"], classificationCode=reg["classification"])
    _e(aggregation, "title", reg.get("case_title") or reg["dnr"])
    agents = _e(aggregation, "agents")
    creator = _e(agents, "agent", agentType="creator")
    _e(creator, "name", organisation)
    opened = case.get("opened_at")
    _dates(aggregation, [("opened", opened if isinstance(opened, str) else _iso(opened) or reg.get("registered_at"))])
    if case.get("collective_year"):
        notes = _e(aggregation, "notes")
        _e(notes, "note", f"Samlingsärende för dokumentation av sociala medier {case['collective_year']}",
           noteType="collectiveCase")
    _record(aggregation, w, reg, files)


def _record(parent: ET.Element, w, reg: dict, files: list[dict]) -> None:
    m = w.manifest
    record = _e(parent, "record", recordType="document", recordPhysicalOrDigital="digitial",  # the schema's spelling
                systemIdentifier=str(uuid.uuid5(ID_SPACE, f"record|{m['bundle_id']}|{reg['dnr']}")))
    number = reg.get("document_no")
    _e(record, "objectId", f"{reg['dnr']}:{number}" if number else m["bundle_id"])
    _e(record, "extraId", m["bundle_id"], extraIdType="archiverBundleId")
    if reg.get("classification"):
        _e(record, "classification", reg["classification"], classificationCode=reg["classification"])
    _e(record, "title", reg.get("document_title") or m["bundle_id"])
    if number:
        _e(record, "runningNumber", str(number))
    basis = secrecy_words(reg.get("secrecy"))
    if basis:
        restriction = _e(record, "restriction", restrictionType="confidential")
        _e(restriction, "explanatoryText", "Handlingen innehåller uppgifter som omfattas av sekretess.")
        _e(restriction, "regulation", basis)
    agents = _e(record, "agents")
    creator = _e(agents, "agent", agentType="creator")
    _e(creator, "name", w.organisation)
    if reg.get("registered_by"):
        registrar = _e(agents, "agent", agentType="other", otherAgentType="registrar")
        _e(registrar, "name", reg["registered_by"])
    if m.get("requested_by"):
        requester = _e(agents, "agent", agentType="other", otherAgentType="requestedBy")
        _e(requester, "name", m["requested_by"])
    _e(record, "description", _description(m))
    _dates(record, [("start", m.get("run_start")), ("end", m.get("run_end")), ("created", m.get("run_end")),
                    ("captured", reg.get("registered_at"))])
    additional = _e(record, "additionalInformation")
    for file in files:
        _e(additional, "appendix", name=file["name"], path=file["href"], fileFormat=file["format"],
           description=APPENDIX_WORDS.get(file["format"].split("/")[0], file["format"]))


def _description(m: dict) -> str:
    pages = [p for p in m.get("pages", []) if p.get("status") == "ok"]
    urls = ", ".join(p.get("final_url") or p.get("requested_url") or p.get("id", "") for p in pages)
    reason = m.get("reason") or ""
    why = "schemalagd halvårsvis dokumentation" if reason == "scheduled" else reason
    return f"Skärmbilder tagna av {TOOL_NAME} ({why}): {urls or 'inga sidor fångade'}."


def _iso(value) -> str | None:
    from archiver.models import iso

    return iso(value) if value is not None else None
