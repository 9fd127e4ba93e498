"""The SIP's descriptive and preservation metadata (Dublin Core, PREMIS) and its README, from the manifest.

Split from archiver/bundle/eark.py, which writes the files and the METS; each function here takes that
module's writer (`w`: the manifest, the package id, the organisation, the time) and returns XML or text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from archiver import TOOL_NAME, __version__
from archiver.bundle.cover import POST_CLASSES_SV

REPRESENTATION = "rep1"
TITLE = "Skärmdumpar av sociala medier – {organisation}"
POST_TITLE = "Inlägg i sociala medier – {organisation}"

NS = {
    "mets": "http://www.loc.gov/METS/",
    "xlink": "http://www.w3.org/1999/xlink",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "csip": "https://DILCIS.eu/XML/METS/CSIPExtensionMETS",
    "sip": "https://DILCIS.eu/XML/METS/SIPExtensionMETS",
    "premis": "http://www.loc.gov/premis/v3",
    "dc": "http://purl.org/dc/elements/1.1/",
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

XML_MIME = "text/xml"


def q(name: str) -> str:
    """'mets:file' → '{http://www.loc.gov/METS/}file'."""
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


# -- Dublin Core ----------------------------------------------------------------------------------------------
def dublin_core(w) -> ET.Element:
    m = w.manifest
    dc = ET.Element(q("oai_dc:dc"), {q("xsi:schemaLocation"):
                                     f"{NS['oai_dc']} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"})

    def add(name: str, text: str | None) -> None:
        if text:
            ET.SubElement(dc, q(f"dc:{name}")).text = text

    pages = m.get("pages", [])
    ok = [p for p in pages if p.get("status") == "ok"]
    post = m.get("post")
    add("title", (POST_TITLE if post else TITLE).format(organisation=w.organisation))
    add("creator", w.organisation)
    add("subject", "Sociala medier")
    if post:
        add("subject", POST_CLASSES_SV.get(post.get("class"), post.get("class")))
        add("description", f"Inlägg {post.get('permalink') or post.get('url')}, författare som visat: "
                           f"{post.get('author') or '–'}, tid som visat: {post.get('shown_time') or '–'}.")
    for platform in sorted({p.get("platform") for p in pages if p.get("platform")}):
        add("subject", platform)
    add("description", f"Skärmdumpar av {len(ok)} av {len(pages)} sidor i sociala medier, tagna "
                       f"{m.get('run_start')} – {m.get('run_end')} (UTC). Anledning: {m.get('reason')}. "
                       f"Beställd av: {m.get('requested_by')}. Verktyg: {TOOL_NAME} "
                       f"{m.get('tool', {}).get('version')}, {m.get('browser')}.")
    for failure in m.get("failures", []):
        add("description", f"Ej tagen: {failure.get('id')} ({failure.get('variant')}): {failure.get('error')}")
    for reg in w.registrations:
        add("description", f"Diarieförd som {reg['dnr']} av {reg.get('registered_by')} "
                           f"{reg.get('registered_at')}.")
    add("date", f"{m.get('run_start')}/{m.get('run_end')}")
    add("type", "Image")
    add("format", f"application/pdf (PDF/A-{w.level})")
    add("identifier", m["bundle_id"])
    for reg in w.registrations:
        add("identifier", reg["dnr"])
    for url in dict.fromkeys(p.get("requested_url") for p in pages if p.get("requested_url")):
        add("source", url)
    add("language", "sv")
    return dc

# -- PREMIS ---------------------------------------------------------------------------------------------------
def rep_premis(w, representation, pdf, base: str, extras: list = ()) -> ET.Element:
    m = w.manifest
    tool = m.get("tool", {})
    premis = _premis_root()
    for extra in extras:  # a collection's further data files: each with its fixity
        other = ET.SubElement(premis, q("premis:object"), {q("xsi:type"): "premis:file"})
        _identifier(other, "object", "local", extra.rel[len(base):])
        chars = ET.SubElement(other, q("premis:objectCharacteristics"))
        _text(chars, "compositionLevel", "0")
        fixity = ET.SubElement(chars, q("premis:fixity"))
        _text(fixity, "messageDigestAlgorithm", "SHA-256")
        _text(fixity, "messageDigest", extra.sha256)
        _text(chars, "size", str(extra.size))
        fmt = ET.SubElement(chars, q("premis:format"))
        designation = ET.SubElement(fmt, q("premis:formatDesignation"))
        _text(designation, "formatName", extra.mimetype)
        _text(other, "originalName", extra.rel.rsplit("/", 1)[-1])
    obj = ET.SubElement(premis, q("premis:object"), {q("xsi:type"): "premis:file"})
    _identifier(obj, "object", "local", pdf.rel[len(base):])
    chars = ET.SubElement(obj, q("premis:objectCharacteristics"))
    _text(chars, "compositionLevel", "0")
    fixity = ET.SubElement(chars, q("premis:fixity"))
    _text(fixity, "messageDigestAlgorithm", "SHA-256")
    _text(fixity, "messageDigest", pdf.sha256)
    _text(fixity, "messageDigestOriginator", tool.get("name") or TOOL_NAME)
    _text(chars, "size", str(pdf.size))
    fmt = ET.SubElement(chars, q("premis:format"))
    designation = ET.SubElement(fmt, q("premis:formatDesignation"))
    _text(designation, "formatName", representation.format_name)
    _text(designation, "formatVersion", representation.format_version)
    if representation.pronom:
        registry = ET.SubElement(fmt, q("premis:formatRegistry"))
        _text(registry, "formatRegistryName", "PRONOM")
        _text(registry, "formatRegistryKey", representation.pronom)
    app = ET.SubElement(chars, q("premis:creatingApplication"))
    _text(app, "creatingApplicationName", tool.get("name") or TOOL_NAME)
    _text(app, "creatingApplicationVersion", tool.get("version") or "")
    _text(app, "dateCreatedByApplication", m.get("run_end") or "")
    _text(obj, "originalName", pdf.rel.rsplit("/", 1)[-1])
    capture_id = f"capture-{m['bundle_id']}"
    _identifier(obj, "linkingEvent", "local", capture_id)

    pages = m.get("pages", [])
    ok = sum(p.get("status") == "ok" for p in pages)
    event = ET.SubElement(premis, q("premis:event"))
    _identifier(event, "event", "local", capture_id)
    _text(event, "eventType", "creation")
    _text(event, "eventDateTime", m.get("run_end") or "")
    detail = ET.SubElement(event, q("premis:eventDetailInformation"))
    _text(detail, "eventDetail", f"{representation.what[0].upper()}{representation.what[1:]}, made by capture "
                                 f"run {m.get('run_start')} – {m.get('run_end')}: {ok} of {len(pages)} "
                                 f"pages captured; reason: {m.get('reason')}; requested by: "
                                 f"{m.get('requested_by')}; browser: {m.get('browser')}")
    outcome = ET.SubElement(event, q("premis:eventOutcomeInformation"))
    _text(outcome, "eventOutcome", "success" if ok == len(pages) else "partial success")
    for failure in m.get("failures", []):
        note = ET.SubElement(outcome, q("premis:eventOutcomeDetail"))
        _text(note, "eventOutcomeDetailNote", f"{failure.get('id')} ({failure.get('variant')}): "
                                              f"{failure.get('failure')}: {failure.get('error')}")
    tool_agent = f"{tool.get('name') or TOOL_NAME}-{tool.get('version')}"
    _linking_agent(event, tool_agent, "executing program")
    if m.get("browser"):
        _linking_agent(event, "browser", "executing program")
    _linking_agent(event, "organisation", "authorizer")
    _identifier(event, "linkingObject", "local", pdf.rel[len(base):])
    _agent(premis, tool_agent, tool.get("name") or TOOL_NAME, "software", tool.get("version"))
    if m.get("browser"):
        _agent(premis, "browser", m["browser"], "software", None)
    _agent(premis, "organisation", w.organisation, "organization", None)
    return premis

def package_premis(w, reps: list) -> ET.Element:
    premis = _premis_root()
    for representation in reps:
        obj = ET.SubElement(premis, q("premis:object"), {q("xsi:type"): "premis:representation"})
        _identifier(obj, "object", "local", representation.name)
        _identifier(obj, "linkingEvent", "local", f"package-{w.objid}")
    event = ET.SubElement(premis, q("premis:event"))
    _identifier(event, "event", "local", f"package-{w.objid}")
    _text(event, "eventType", "information package creation")
    _text(event, "eventDateTime", w.now)
    detail = ET.SubElement(event, q("premis:eventDetailInformation"))
    _text(detail, "eventDetail", f"E-ARK SIP {w.objid} made from bundle {w.manifest['bundle_id']} "
                                 f"by {TOOL_NAME} {__version__}")
    outcome = ET.SubElement(event, q("premis:eventOutcomeInformation"))
    _text(outcome, "eventOutcome", "success")
    _linking_agent(event, f"{TOOL_NAME}-{__version__}", "executing program")
    for representation in reps:
        _identifier(event, "linkingObject", "local", representation.name)
    _agent(premis, f"{TOOL_NAME}-{__version__}", TOOL_NAME, "software", __version__)
    return premis

# -- documentation --------------------------------------------------------------------------------------------
def readme(w, written: list) -> str:
    m = w.manifest
    pdf = written[0][1]
    pdf_rel = pdf.rel
    rep1 = f"representations/{REPRESENTATION}/"
    lines = [
        TITLE.format(organisation=w.organisation),
        "=" * len(TITLE.format(organisation=w.organisation)),
        "",
        f"E-ARK SIP (CSIP/SIP 2.x) {w.objid}, skapat {w.now} av {TOOL_NAME} {__version__}.",
        f"Paketet innehåller körningen {m['bundle_id']}: skärmdumpar av organisationens sidor i sociala",
        f"medier, tagna {m.get('run_start')} – {m.get('run_end')} (UTC). Anledning: {m.get('reason')}.",
        f"Beställd av: {m.get('requested_by')}.",
        "",
        "Innehåll",
        "--------",
        "METS.xml                      paketets METS: agenter, metadata, filer med SHA-256, struktur",
        f"{pdf_rel}",
        f"                              skärmdumparna som PDF/A-{w.level}: ett försättsblad, sedan varje",
        "                              sida som bildrutor med exakt de tagna pixlarna, märkta med URL och tid",
        f"{rep1}METS.xml",
        "                              representationens METS",
        f"{rep1}metadata/preservation/premis.xml",
        "                              PREMIS: PDF-filens kontrollsumma, format (PRONOM) och tillkomst",
    ]
    for _representation, data, _mets in written[1:]:
        lines += [
            data.rel,
            "                              webbarkivet (WACZ 1.1.1, med WARC-filer) som spelades in under samma",
            "                              besök som bilderna: sidornas HTML, bilder och svar, för uppspelning",
            "                              (ReplayWeb.page, pywb); dess helsidesbilder har bildernas pixlar",
            f"{data.rel.rsplit('/data/', 1)[0]}/METS.xml och metadata/preservation/premis.xml",
            "                              dess METS och PREMIS (kontrollsumma, format, tillkomst)",
        ]
    lines += [
        "metadata/descriptive/dc.xml   beskrivande metadata (Dublin Core): titel, arkivbildare, datum,",
        "                              anledning, sidor, diarienummer",
        *(["metadata/descriptive/erms.xml  ärendet och handlingen (E-ARK CITS ERMS 2.1.2, FGS Ärendehantering):",
           "                              diarienummer, ärendemening, klassificering, löpnummer, sekretess"]
          if w.registrations else []),
        "metadata/preservation/premis.xml",
        "                              PREMIS: paketets tillkomst",
        "metadata/other/manifest.json  verktygets manifest, oförändrat: varje sidas URL, tider, webbläsare,",
        "                              storlek, bildrutor och deras pixelkontrollsummor",
        "schemas/                      XML-scheman för METS, XLink, E-ARK:s METS-tillägg och ERMS",
        "documentation/README.txt      den här filen",
        "",
        "Kontrollsummor",
        "--------------",
    ]
    for name, definition in m.get("hash_definitions", {}).items():
        lines.append(f"{name}: {definition}")
    lines += [
        "",
        f"PDF-filens SHA-256 ({pdf.sha256}) står både i METS och i manifest.json.",
        "Att varje bildruta i PDF-filen är exakt den tagna bilden kan kontrolleras med archiver:",
        "lägg PDF-filen och manifest.json i samma mapp och kör `archiver bundles verify MAPP`.",
    ]
    if w.registrations:
        lines += ["", "Diarieföring", "------------"]
        lines += [f"{r['dnr']}" + (f", handling {r['document_no']}" if r.get("document_no") else "")
                  + f"  av {r.get('registered_by')}  {r.get('registered_at')}" for r in w.registrations]
    return "\n".join(lines) + "\n"


def _premis_root() -> ET.Element:
    return ET.Element(q("premis:premis"), {
        "version": "3.0",
        q("xsi:schemaLocation"): f"{NS['premis']} https://www.loc.gov/standards/premis/v3/premis.xsd"})


def _text(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, q(f"premis:{name}"))
    element.text = text
    return element


def _identifier(parent: ET.Element, kind: str, id_type: str, value: str) -> None:
    """<premis:{kind}Identifier> with its Type and Value children (object, event, linkingEvent, ...)."""
    element = ET.SubElement(parent, q(f"premis:{kind}Identifier"))
    _text(element, f"{kind}IdentifierType", id_type)
    _text(element, f"{kind}IdentifierValue", value)


def _linking_agent(event: ET.Element, value: str, role: str) -> None:
    element = ET.SubElement(event, q("premis:linkingAgentIdentifier"))
    _text(element, "linkingAgentIdentifierType", "local")
    _text(element, "linkingAgentIdentifierValue", value)
    _text(element, "linkingAgentRole", role)


def _agent(premis: ET.Element, ident: str, name: str, agent_type: str, version: str | None) -> None:
    agent = ET.SubElement(premis, q("premis:agent"))
    _identifier(agent, "agent", "local", ident)
    _text(agent, "agentName", name)
    _text(agent, "agentType", agent_type)
    if version:
        _text(agent, "agentVersion", version)
