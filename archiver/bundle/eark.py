"""A stored bundle as an E-ARK SIP (CSIP/SIP 2.x, the basis of FGS Paketstruktur 2.0).

`build_sip(bundle_folder, out_dir)` reads a bundle folder (PDF/A + manifest.json) and writes one package
folder, named by its OBJID (`<organisation-slug>-<bundle_id>`), into `out_dir`:

    METS.xml                                         package METS: agents, dmdSec, amdSec, fileSec, structMap
    metadata/descriptive/dc.xml                      Dublin Core: title, organisation, dates, reason, diarienummer
    metadata/preservation/premis.xml                 PREMIS: the representation and the packaging event
    metadata/other/manifest.json                     the bundle's manifest, byte for byte
    representations/rep1/METS.xml                    the representation's METS
    representations/rep1/data/<bundle_id>.pdf        the PDF/A, byte for byte
    representations/rep1/metadata/preservation/premis.xml   PREMIS: the PDF's fixity, format, creation
    schemas/                                         mets.xsd, xlink.xsd, the DILCIS CSIP/SIP extensions
    documentation/README.txt                         what the package holds, in words

Every file is referenced with its MIME type, size, creation time and SHA-256. The package is built in a
hidden `.partial-*` folder in `out_dir` and renamed into place, and an existing package is never
overwritten. Nothing here prints; errors carry their exit codes (`archiver.errors`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from archiver import TOOL_NAME, __version__
from archiver.bundle import manifest as manifest_io
from archiver.bundle.cover import POST_CLASSES_SV
from archiver.bundle.timestamp import TOKEN_NAME
from archiver.errors import BadInputError, ConfigurationError, VerificationError
from archiver.fileio import fsync_dir
from archiver.models import iso, utcnow

log = logging.getLogger(__name__)

FORMATS = ("eark-sip",)
STAGING_PREFIX = ".partial-"
REPRESENTATION = "rep1"
SCHEMAS_DIR = Path(__file__).resolve().parent / "eark_schemas"
SCHEMA_FILES = ("mets.xsd", "xlink.xsd", "DILCISExtensionMETS.xsd", "DILCISExtensionSIPMETS.xsd")

SIP_PROFILE = "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"
# mets/@TYPE from the CSIP content-category vocabulary: none of its terms fits screenshots of social-media
# pages in a PDF, so "Other" with csip:OTHERTYPE; likewise no content information type specification exists.
CONTENT_CATEGORY = "Other"
OTHER_CONTENT_CATEGORY = "Social media screenshots"
CONTENT_INFORMATION_TYPE = "OTHER"
OTHER_CONTENT_INFORMATION_TYPE = "archiver bundle: PDF/A with manifest.json"
POST_TITLE = "Inlägg i sociala medier – {organisation}"
TITLE = "Skärmdumpar av sociala medier – {organisation}"
PRONOM = {"1b": "fmt/354", "2b": "fmt/477"}

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


@dataclass(frozen=True)
class SipResult:
    path: Path
    objid: str
    files: int

    def as_dict(self) -> dict:
        return {"sip": str(self.path), "files": self.files, "objid": self.objid}


@dataclass(frozen=True)
class _File:
    """A file written into the package: where (relative to the package root), and what METS says of it."""

    rel: str
    size: int
    sha256: str
    created: str
    mimetype: str

    def href(self, base: str = "") -> str:
        rel = self.rel[len(base):] if base and self.rel.startswith(base) else self.rel
        return quote(rel)


def organisation_slug(organisation: str) -> str:
    """'Götene kommun' → 'gotene-kommun': ASCII, lower case, safe in any file system."""
    ascii_text = unicodedata.normalize("NFKD", organisation).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or TOOL_NAME


def package_id(manifest: dict) -> str:
    """The package's OBJID and folder name: the same bundle always gives the same name."""
    return f"{organisation_slug(manifest.get('organisation') or '')}-{manifest['bundle_id']}"


def build_sip(bundle_folder: Path, out_dir: Path, *, catalog_row: dict | None = None,
              now: datetime | None = None) -> SipResult:
    """Write the E-ARK SIP of the bundle in `bundle_folder` into `out_dir`; refuses to overwrite one."""
    bundle_folder, out_dir = Path(bundle_folder), Path(out_dir).absolute()
    manifest_path = bundle_folder / manifest_io.MANIFEST_NAME
    try:
        manifest = manifest_io.load(manifest_path)
        pdf_name = manifest["pdf"]["file"]
        if not manifest.get("bundle_id"):
            raise KeyError("bundle_id")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"{manifest_path}: not a readable bundle manifest ({exc})") from exc
    pdf_path = bundle_folder / pdf_name
    if not pdf_path.is_file():
        raise BadInputError(f"{bundle_folder}: the manifest names {pdf_name}, which is not there")
    _check_hashes(pdf_path, manifest_path, manifest, catalog_row)
    if not all((SCHEMAS_DIR / name).is_file() for name in SCHEMA_FILES):
        raise ConfigurationError(f"the XML schemas the SIP ships are missing from {SCHEMAS_DIR}; reinstall archiver")

    objid = package_id(manifest)
    final = out_dir / objid
    if final.exists():
        raise BadInputError(f"{final} already exists; not overwriting it")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{objid}-", dir=out_dir))
    except OSError as exc:
        raise BadInputError(f"cannot write into {out_dir}: {exc.strerror}") from exc
    try:
        count = _Writer(staging, objid, manifest, catalog_row, now or utcnow()).write(pdf_path, manifest_path)
        os.chmod(staging, 0o777 & ~_umask())
        if final.exists():
            raise BadInputError(f"{final} already exists; not overwriting it")
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_dir(out_dir)
    log.info("wrote E-ARK SIP %s (%d files)", final, count)
    return SipResult(final, objid, count)


def _check_hashes(pdf_path: Path, manifest_path: Path, manifest: dict, catalog_row: dict | None) -> None:
    """Export only what the bundle says it is: the PDF's SHA-256 against the manifest (and the catalog)."""
    pdf_sha = manifest_io.sha256_file(pdf_path)
    expected = {"manifest": manifest["pdf"].get("sha256")}
    if catalog_row is not None:
        expected["catalog"] = catalog_row.get("pdf_sha256")
        manifest_sha = manifest_io.sha256_file(manifest_path)
        if manifest_sha != catalog_row.get("manifest_sha256"):
            raise VerificationError(f"{manifest_path} does not match the catalog's SHA-256; "
                                    "run `archiver bundles verify` before exporting")
    for source, digest in expected.items():
        if pdf_sha != digest:
            raise VerificationError(f"{pdf_path} does not match the {source}'s SHA-256; "
                                    "run `archiver bundles verify` before exporting")


class _Writer:
    """Writes one package into `root` (the staging folder); `write` returns the number of files."""

    def __init__(self, root: Path, objid: str, manifest: dict, catalog_row: dict | None, now: datetime):
        self.root = root
        self.objid = objid
        self.manifest = manifest
        self.now = iso(now)
        self.organisation = manifest.get("organisation") or ""
        self.level = str(manifest["pdf"].get("pdfa") or "2b")
        self.registrations = _registrations(manifest, catalog_row)
        self.rep = f"representations/{REPRESENTATION}/"

    # -- files ----------------------------------------------------------------------------------------------
    def _record(self, rel: str, mimetype: str, created: str | None = None) -> _File:
        path = self.root / rel
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
        return _File(rel, path.stat().st_size, manifest_io.sha256_file(path), created or self.now, mimetype)

    def _copy(self, source: Path, rel: str, mimetype: str, created: str | None) -> _File:
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return self._record(rel, mimetype, created)

    def _write(self, rel: str, data: bytes, mimetype: str) -> _File:
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return self._record(rel, mimetype)

    def _write_xml(self, rel: str, root: ET.Element) -> _File:
        ET.indent(root, space="  ")
        text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
        return self._write(rel, text.encode("utf-8"), XML_MIME)

    def write(self, pdf_path: Path, manifest_path: Path) -> int:
        m = self.manifest
        pdf = self._copy(pdf_path, f"{self.rep}data/{pdf_path.name}", "application/pdf", m.get("run_end"))
        if pdf.sha256 != m["pdf"]["sha256"]:
            raise VerificationError(f"the copy of {pdf_path} differs from the original; disk or memory fault?")
        manifest_created = iso(datetime.fromtimestamp(manifest_path.stat().st_mtime, UTC))
        manifest_file = self._copy(manifest_path, "metadata/other/manifest.json", "application/json",
                                   manifest_created)
        token_path = manifest_path.with_name(TOKEN_NAME)
        token_file = None
        if token_path.is_file():
            token_created = iso(datetime.fromtimestamp(token_path.stat().st_mtime, UTC))
            token_file = self._copy(token_path, f"metadata/other/{TOKEN_NAME}", "application/timestamp-reply",
                                    token_created)
        rep_premis = self._write_xml(f"{self.rep}metadata/preservation/premis.xml", self._rep_premis(pdf))
        rep_mets = self._write_xml(f"{self.rep}METS.xml", self._rep_mets(pdf, rep_premis))
        dc = self._write_xml("metadata/descriptive/dc.xml", self._dublin_core())
        premis = self._write_xml("metadata/preservation/premis.xml", self._package_premis(rep_mets))
        schemas = [self._copy(SCHEMAS_DIR / name, f"schemas/{name}", XML_MIME, None) for name in SCHEMA_FILES]
        readme = self._write("documentation/README.txt", self._readme(pdf).encode("utf-8"), "text/plain")
        self._write_xml("METS.xml", self._package_mets(dc, premis, manifest_file, schemas, readme, rep_mets,
                                                       token_file))
        for folder, _dirs, _files in os.walk(self.root):
            fsync_dir(Path(folder))
        return sum(len(files) for _folder, _dirs, files in os.walk(self.root))

    # -- METS -----------------------------------------------------------------------------------------------
    def _mets_root(self, objid: str, schemas: str) -> ET.Element:
        locations = [("mets", "mets.xsd"), ("xlink", "xlink.xsd"), ("csip", "DILCISExtensionMETS.xsd"),
                     ("sip", "DILCISExtensionSIPMETS.xsd")]
        mets = ET.Element(q("mets:mets"), {
            "OBJID": objid,
            "LABEL": f"{TITLE.format(organisation=self.organisation)} – {self.manifest['bundle_id']}",
            "TYPE": CONTENT_CATEGORY,
            q("csip:OTHERTYPE"): OTHER_CONTENT_CATEGORY,
            q("csip:CONTENTINFORMATIONTYPE"): CONTENT_INFORMATION_TYPE,
            q("csip:OTHERCONTENTINFORMATIONTYPE"): OTHER_CONTENT_INFORMATION_TYPE,
            "PROFILE": SIP_PROFILE,
            q("xsi:schemaLocation"): " ".join(f"{NS[p]} {schemas}{name}" for p, name in locations),
        })
        header = ET.SubElement(mets, q("mets:metsHdr"), {
            "CREATEDATE": self.now, "LASTMODDATE": self.now, "RECORDSTATUS": "NEW",
            q("csip:OAISPACKAGETYPE"): "SIP",
        })
        software = ET.SubElement(header, q("mets:agent"), {"ROLE": "CREATOR", "TYPE": "OTHER", "OTHERTYPE": "SOFTWARE"})
        ET.SubElement(software, q("mets:name")).text = TOOL_NAME
        ET.SubElement(software, q("mets:note"), {q("csip:NOTETYPE"): "SOFTWARE VERSION"}).text = __version__
        archivist = ET.SubElement(header, q("mets:agent"), {"ROLE": "ARCHIVIST", "TYPE": "ORGANIZATION"})
        ET.SubElement(archivist, q("mets:name")).text = self.organisation
        return mets

    def _md_ref(self, parent: ET.Element, tag: str, ident: str, file: _File, mdtype: str, base: str = "",
                **extra: str) -> None:
        section = ET.SubElement(parent, q(tag), {"ID": ident, "CREATED": file.created, "STATUS": "CURRENT"})
        ET.SubElement(section, q("mets:mdRef"), {
            "LOCTYPE": "URL", q("xlink:type"): "simple", q("xlink:href"): file.href(base), "MDTYPE": mdtype,
            **extra, "MIMETYPE": file.mimetype, "SIZE": str(file.size), "CREATED": file.created,
            "CHECKSUM": file.sha256, "CHECKSUMTYPE": "SHA-256",
        })

    def _file_group(self, file_sec: ET.Element, use: str, ident: str, files: list[_File], base: str = "",
                    formats: dict[str, dict[str, str]] | None = None) -> None:
        group = ET.SubElement(file_sec, q("mets:fileGrp"), {
            "ID": ident, "USE": use,
            # eark-validator 1.1.3's CSIP63 rule accepts a fileGrp only with these two attributes;
            # the package holds one kind of content, so every group states it.
            q("csip:CONTENTINFORMATIONTYPE"): CONTENT_INFORMATION_TYPE,
            q("csip:OTHERCONTENTINFORMATIONTYPE"): OTHER_CONTENT_INFORMATION_TYPE,
        })
        for index, file in enumerate(files, 1):
            element = ET.SubElement(group, q("mets:file"), {
                "ID": f"{ident}-file-{index}", "MIMETYPE": file.mimetype, "SIZE": str(file.size),
                "CREATED": file.created, "CHECKSUM": file.sha256, "CHECKSUMTYPE": "SHA-256",
                **(formats or {}).get(file.rel, {}),
            })
            ET.SubElement(element, q("mets:FLocat"), {
                "LOCTYPE": "URL", q("xlink:type"): "simple", q("xlink:href"): file.href(base)})

    @staticmethod
    def _div(parent: ET.Element, ident: str, label: str, **attrs: str) -> ET.Element:
        return ET.SubElement(parent, q("mets:div"), {"ID": ident, "LABEL": label, **attrs})

    def _package_mets(self, dc: _File, premis: _File, manifest_file: _File, schemas: list[_File],
                      readme: _File, rep_mets: _File, token_file: _File | None = None) -> ET.Element:
        mets = self._mets_root(self.objid, "schemas/")
        self._md_ref(mets, "mets:dmdSec", "dmd-dc", dc, "DC")
        amd = ET.SubElement(mets, q("mets:amdSec"), {"ID": "amd"})
        self._md_ref(amd, "mets:digiprovMD", "digiprov-premis", premis, "PREMIS", MDTYPEVERSION="3.0")
        self._md_ref(amd, "mets:digiprovMD", "digiprov-manifest", manifest_file, "OTHER",
                     OTHERMDTYPE="archiver manifest.json")
        admids = "digiprov-premis digiprov-manifest"
        if token_file is not None:
            self._md_ref(amd, "mets:digiprovMD", "digiprov-timestamp", token_file, "OTHER",
                         OTHERMDTYPE="RFC 3161 time-stamp token over manifest.json")
            admids += " digiprov-timestamp"
        file_sec = ET.SubElement(mets, q("mets:fileSec"), {"ID": "filesec"})
        self._file_group(file_sec, "Documentation", "grp-documentation", [readme])
        self._file_group(file_sec, "Schemas", "grp-schemas", schemas)
        rep_use = f"Representations/{REPRESENTATION}"
        self._file_group(file_sec, rep_use, f"grp-{REPRESENTATION}", [rep_mets])

        struct = ET.SubElement(mets, q("mets:structMap"), {"ID": "structmap-csip", "TYPE": "PHYSICAL", "LABEL": "CSIP"})
        package = self._div(struct, "div-package", self.objid)
        self._div(package, "div-metadata", "Metadata", ADMID=admids, DMDID="dmd-dc")
        for label, group in (("Documentation", "grp-documentation"), ("Schemas", "grp-schemas")):
            ET.SubElement(self._div(package, f"div-{label.lower()}", label), q("mets:fptr"), {"FILEID": group})
        representations = self._div(package, "div-representations", "Representations")
        ET.SubElement(representations, q("mets:fptr"), {"FILEID": f"grp-{REPRESENTATION}"})
        rep_div = self._div(representations, f"div-{REPRESENTATION}", rep_use)
        ET.SubElement(rep_div, q("mets:mptr"), {
            "LOCTYPE": "URL", q("xlink:type"): "simple", q("xlink:href"): rep_mets.href(),
            q("xlink:title"): f"grp-{REPRESENTATION}"})
        return mets

    def _rep_mets(self, pdf: _File, rep_premis: _File) -> ET.Element:
        mets = self._mets_root(REPRESENTATION, "../../schemas/")
        ident = REPRESENTATION
        amd = ET.SubElement(mets, q("mets:amdSec"), {"ID": f"{ident}-amd"})
        self._md_ref(amd, "mets:digiprovMD", f"{ident}-digiprov-premis", rep_premis, "PREMIS", base=self.rep,
                     MDTYPEVERSION="3.0")
        file_sec = ET.SubElement(mets, q("mets:fileSec"), {"ID": f"{ident}-filesec"})
        pdf_format = {
            q("sip:FILEFORMATNAME"): f"PDF/A-{self.level}", q("sip:FILEFORMATVERSION"): self.level,
            **({q("sip:FILEFORMATREGISTRY"): "PRONOM", q("sip:FILEFORMATKEY"): PRONOM[self.level]}
               if self.level in PRONOM else {}),
        }
        self._file_group(file_sec, "Data", f"{ident}-grp-data", [pdf], base=self.rep, formats={pdf.rel: pdf_format})
        struct = ET.SubElement(mets, q("mets:structMap"), {"ID": f"{ident}-structmap-csip", "TYPE": "PHYSICAL",
                                                           "LABEL": "CSIP"})
        top = self._div(struct, f"{ident}-div", ident)
        self._div(top, f"{ident}-div-metadata", "Metadata", ADMID=f"{ident}-digiprov-premis")
        ET.SubElement(self._div(top, f"{ident}-div-data", "Data"), q("mets:fptr"), {"FILEID": f"{ident}-grp-data"})
        return mets

    # -- Dublin Core ----------------------------------------------------------------------------------------
    def _dublin_core(self) -> ET.Element:
        m = self.manifest
        dc = ET.Element(q("oai_dc:dc"), {q("xsi:schemaLocation"):
                                         f"{NS['oai_dc']} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"})

        def add(name: str, text: str | None) -> None:
            if text:
                ET.SubElement(dc, q(f"dc:{name}")).text = text

        pages = m.get("pages", [])
        ok = [p for p in pages if p.get("status") == "ok"]
        post = m.get("post")
        add("title", (POST_TITLE if post else TITLE).format(organisation=self.organisation))
        add("creator", self.organisation)
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
        for reg in self.registrations:
            add("description", f"Diarieförd som {reg['dnr']} av {reg.get('registered_by')} "
                               f"{reg.get('registered_at')}.")
        add("date", f"{m.get('run_start')}/{m.get('run_end')}")
        add("type", "Image")
        add("format", f"application/pdf (PDF/A-{self.level})")
        add("identifier", m["bundle_id"])
        for reg in self.registrations:
            add("identifier", reg["dnr"])
        for url in dict.fromkeys(p.get("requested_url") for p in pages if p.get("requested_url")):
            add("source", url)
        add("language", "sv")
        return dc

    # -- PREMIS ---------------------------------------------------------------------------------------------
    def _rep_premis(self, pdf: _File) -> ET.Element:
        m = self.manifest
        tool = m.get("tool", {})
        premis = _premis_root()
        obj = ET.SubElement(premis, q("premis:object"), {q("xsi:type"): "premis:file"})
        _identifier(obj, "object", "local", pdf.rel[len(self.rep):])
        chars = ET.SubElement(obj, q("premis:objectCharacteristics"))
        _text(chars, "compositionLevel", "0")
        fixity = ET.SubElement(chars, q("premis:fixity"))
        _text(fixity, "messageDigestAlgorithm", "SHA-256")
        _text(fixity, "messageDigest", pdf.sha256)
        _text(fixity, "messageDigestOriginator", tool.get("name") or TOOL_NAME)
        _text(chars, "size", str(pdf.size))
        fmt = ET.SubElement(chars, q("premis:format"))
        designation = ET.SubElement(fmt, q("premis:formatDesignation"))
        _text(designation, "formatName", f"PDF/A-{self.level}")
        _text(designation, "formatVersion", self.level)
        if self.level in PRONOM:
            registry = ET.SubElement(fmt, q("premis:formatRegistry"))
            _text(registry, "formatRegistryName", "PRONOM")
            _text(registry, "formatRegistryKey", PRONOM[self.level])
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
        _text(detail, "eventDetail", f"Capture run {m.get('run_start')} – {m.get('run_end')}: {ok} of {len(pages)} "
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
        _identifier(event, "linkingObject", "local", pdf.rel[len(self.rep):])
        _agent(premis, tool_agent, tool.get("name") or TOOL_NAME, "software", tool.get("version"))
        if m.get("browser"):
            _agent(premis, "browser", m["browser"], "software", None)
        _agent(premis, "organisation", self.organisation, "organization", None)
        return premis

    def _package_premis(self, rep_mets: _File) -> ET.Element:
        premis = _premis_root()
        obj = ET.SubElement(premis, q("premis:object"), {q("xsi:type"): "premis:representation"})
        _identifier(obj, "object", "local", REPRESENTATION)
        _identifier(obj, "linkingEvent", "local", f"package-{self.objid}")
        event = ET.SubElement(premis, q("premis:event"))
        _identifier(event, "event", "local", f"package-{self.objid}")
        _text(event, "eventType", "information package creation")
        _text(event, "eventDateTime", self.now)
        detail = ET.SubElement(event, q("premis:eventDetailInformation"))
        _text(detail, "eventDetail", f"E-ARK SIP {self.objid} made from bundle {self.manifest['bundle_id']} "
                                     f"by {TOOL_NAME} {__version__}")
        outcome = ET.SubElement(event, q("premis:eventOutcomeInformation"))
        _text(outcome, "eventOutcome", "success")
        _linking_agent(event, f"{TOOL_NAME}-{__version__}", "executing program")
        _identifier(event, "linkingObject", "local", REPRESENTATION)
        _agent(premis, f"{TOOL_NAME}-{__version__}", TOOL_NAME, "software", __version__)
        return premis

    # -- documentation --------------------------------------------------------------------------------------
    def _readme(self, pdf: _File) -> str:
        m = self.manifest
        pdf_rel = pdf.rel
        lines = [
            TITLE.format(organisation=self.organisation),
            "=" * len(TITLE.format(organisation=self.organisation)),
            "",
            f"E-ARK SIP (CSIP/SIP 2.x) {self.objid}, skapat {self.now} av {TOOL_NAME} {__version__}.",
            f"Paketet innehåller körningen {m['bundle_id']}: skärmdumpar av organisationens sidor i sociala",
            f"medier, tagna {m.get('run_start')} – {m.get('run_end')} (UTC). Anledning: {m.get('reason')}.",
            f"Beställd av: {m.get('requested_by')}.",
            "",
            "Innehåll",
            "--------",
            "METS.xml                      paketets METS: agenter, metadata, filer med SHA-256, struktur",
            f"{pdf_rel}",
            f"                              skärmdumparna som PDF/A-{self.level}: ett försättsblad, sedan varje",
            "                              sida som bildrutor med exakt de tagna pixlarna, märkta med URL och tid",
            f"{self.rep}METS.xml",
            "                              representationens METS",
            f"{self.rep}metadata/preservation/premis.xml",
            "                              PREMIS: PDF-filens kontrollsumma, format (PRONOM) och tillkomst",
            "metadata/descriptive/dc.xml   beskrivande metadata (Dublin Core): titel, arkivbildare, datum,",
            "                              anledning, sidor, diarienummer",
            "metadata/preservation/premis.xml",
            "                              PREMIS: paketets tillkomst",
            "metadata/other/manifest.json  verktygets manifest, oförändrat: varje sidas URL, tider, webbläsare,",
            "                              storlek, bildrutor och deras pixelkontrollsummor",
            "schemas/                      XML-scheman för METS, XLink och E-ARK:s METS-tillägg",
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
        if self.registrations:
            lines += ["", "Diarieföring", "------------"]
            lines += [f"{r['dnr']}  av {r.get('registered_by')}  {r.get('registered_at')}" for r in self.registrations]
        return "\n".join(lines) + "\n"


def _registrations(manifest: dict, catalog_row: dict | None) -> list[dict]:
    """The manifest's registrations, and any the catalog has that the manifest lacks (normally none)."""
    found = [dict(r) for r in manifest.get("registrations", [])]
    known = {r.get("dnr") for r in found}
    for row in (catalog_row or {}).get("registrations", []):
        if row.get("dnr") not in known:
            at = row.get("registered_at")
            found.append({"dnr": row["dnr"], "registered_by": row.get("registered_by"),
                          "registered_at": iso(at) if isinstance(at, datetime) else at})
    return found


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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

