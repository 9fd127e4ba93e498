"""A stored bundle as an E-ARK SIP (CSIP/SIP 2.x, the basis of FGS Paketstruktur 2.0).

`build_sip(bundle_folder, out_dir)` reads a bundle folder (PDF/A + manifest.json) and writes one package
folder, named by its OBJID (`<organisation-slug>-<bundle_id>`), into `out_dir`:

    METS.xml                                         package METS: agents, dmdSec, amdSec, fileSec, structMap
    metadata/descriptive/dc.xml                      Dublin Core: title, organisation, dates, reason, diarienummer
    metadata/descriptive/erms.xml                    once registered: the case and this document (CITS ERMS 2.1.2)
    metadata/preservation/premis.xml                 PREMIS: the representation and the packaging event
    metadata/other/manifest.json                     the bundle's manifest, byte for byte
    representations/rep1/METS.xml                    the representation's METS
    representations/rep1/data/<bundle_id>.pdf        the PDF/A, byte for byte
    representations/rep1/metadata/preservation/premis.xml   PREMIS: the PDF's fixity, format, creation
    representations/rep2/...                         the same for the WACZ of the same visit, when there is one
    schemas/                                         mets.xsd, xlink.xsd, the DILCIS CSIP/SIP extensions, ERMS
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
from archiver.bundle.eark_metadata import (  # rep1: the PDF/A; rep2: the WACZ of the same visit, if there is one
    NS,
    REPRESENTATION,
    TITLE,
    XML_MIME,
    dublin_core,
    package_premis,
    q,
    readme,
    rep_premis,
)
from archiver.bundle.erms import ERMS_SCHEMA, ERMS_VERSION, erms_document
from archiver.bundle.timestamp import TOKEN_NAME
from archiver.bundle.wacz import WACZ_MEDIA_TYPE
from archiver.errors import BadInputError, ConfigurationError, VerificationError
from archiver.fileio import fsync_dir
from archiver.models import iso, utcnow
from archiver.registration import CASE_FIELDS

log = logging.getLogger(__name__)

FORMATS = ("eark-sip",)
STAGING_PREFIX = ".partial-"
SCHEMAS_DIR = Path(__file__).resolve().parent / "eark_schemas"
SCHEMA_FILES = ("mets.xsd", "xlink.xsd", "DILCISExtensionMETS.xsd", "DILCISExtensionSIPMETS.xsd", ERMS_SCHEMA)

SIP_PROFILE = "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"
# mets/@TYPE from the CSIP content-category vocabulary: none of its terms fits screenshots of social-media
# pages in a PDF, so "Other" with csip:OTHERTYPE; likewise no content information type specification exists.
CONTENT_CATEGORY = "Other"
OTHER_CONTENT_CATEGORY = "Social media screenshots"
CONTENT_INFORMATION_TYPE = "OTHER"
OTHER_CONTENT_INFORMATION_TYPE = "archiver bundle: PDF/A with manifest.json"
PRONOM = {"1b": "fmt/354", "2b": "fmt/477"}


@dataclass(frozen=True)
class _Rep:
    """One representation of the bundle: its data file and what the package says of its format."""

    name: str
    source: Path
    mimetype: str
    format_name: str
    format_version: str
    pronom: str | None
    sha256: str  # the manifest's
    what: str  # in words, for PREMIS and the README
    extra: tuple[tuple[Path, str, str], ...] = ()  # more data files: (source, MIME type, the manifest's SHA-256)


JSON_FORMAT = {"name": "JSON", "version": "RFC 8259", "pronom": "fmt/817"}


def _collected_rep(bundle_folder: Path, files: list[dict]) -> _Rep:
    """A collection bundle's raw JSON and media (manifest `files`) as one representation, beside its PDF/A."""
    def mimetype(entry: dict) -> str:
        return "application/json" if entry["role"] == "raw" else entry.get("media_type") or "application/octet-stream"

    first, *rest = files
    return _Rep("rep2", bundle_folder / first["path"], mimetype(first), JSON_FORMAT["name"], JSON_FORMAT["version"],
                JSON_FORMAT["pronom"], first["sha256"],
                "every version of every collected item as the platform's API sent it, and the attachments",
                tuple((bundle_folder / e["path"], mimetype(e), e["sha256"]) for e in rest))


def _representations(bundle_folder: Path, manifest: dict) -> list[_Rep]:
    level = str(manifest["pdf"].get("pdfa") or "2b")
    reps = [_Rep(REPRESENTATION, bundle_folder / manifest["pdf"]["file"], "application/pdf", f"PDF/A-{level}", level,
                 PRONOM.get(level), manifest["pdf"]["sha256"], "the screenshots as PDF/A")]
    wacz = manifest.get("wacz")
    if wacz:
        reps.append(_Rep("rep2", bundle_folder / wacz["file"], wacz.get("media_type") or WACZ_MEDIA_TYPE,
                         "WACZ", "1.1.1", None, wacz["sha256"],
                         "the web archive (WARC records in a WACZ) recorded in the same visit"))
    if manifest.get("files"):
        reps.append(_collected_rep(bundle_folder, manifest["files"]))
    return reps

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
              now: datetime | None = None, cases: dict[str, dict] | None = None) -> SipResult:
    """Write the E-ARK SIP of the bundle in `bundle_folder` into `out_dir`; refuses to overwrite one.
    `cases`: the catalog's cases by diarienummer, for erms.xml's case dates."""
    bundle_folder, out_dir = Path(bundle_folder), Path(out_dir).absolute()
    manifest_path = bundle_folder / manifest_io.MANIFEST_NAME
    try:
        manifest = manifest_io.load(manifest_path)
        if not manifest["pdf"]["file"] or not manifest.get("bundle_id"):
            raise KeyError("bundle_id")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"{manifest_path}: not a readable bundle manifest ({exc})") from exc
    reps = _representations(bundle_folder, manifest)
    for representation in reps:
        for source in (representation.source, *(e[0] for e in representation.extra)):
            if not source.is_file():
                raise BadInputError(f"{bundle_folder}: the manifest names {source.name}, which is not there")
    _check_hashes(reps, manifest_path, catalog_row)
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
        count = _Writer(staging, objid, manifest, catalog_row, now or utcnow(), cases).write(reps, manifest_path)
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


def _check_hashes(reps: list[_Rep], manifest_path: Path, catalog_row: dict | None) -> None:
    """Export only what the bundle says it is: each data file's SHA-256 against the manifest, and the PDF's
    and the manifest's against the catalog."""
    if catalog_row is not None and manifest_io.sha256_file(manifest_path) != catalog_row.get("manifest_sha256"):
        raise VerificationError(f"{manifest_path} does not match the catalog's SHA-256; "
                                "run `archiver bundles verify` before exporting")
    for representation in reps:
        for source, _mimetype, wanted in representation.extra:
            if manifest_io.sha256_file(source) != wanted:
                raise VerificationError(f"{source} does not match the manifest's SHA-256; "
                                        "run `archiver bundles verify` before exporting")
        digest = manifest_io.sha256_file(representation.source)
        expected = {"manifest": representation.sha256}
        if catalog_row is not None and representation.name == REPRESENTATION:
            expected["catalog"] = catalog_row.get("pdf_sha256")
        for source, wanted in expected.items():
            if digest != wanted:
                raise VerificationError(f"{representation.source} does not match the {source}'s SHA-256; "
                                        "run `archiver bundles verify` before exporting")


class _Writer:
    """Writes one package into `root` (the staging folder); `write` returns the number of files."""

    def __init__(self, root: Path, objid: str, manifest: dict, catalog_row: dict | None, now: datetime,
                 cases: dict[str, dict] | None = None):
        self.root = root
        self.cases = cases
        self.objid = objid
        self.manifest = manifest
        self.now = iso(now)
        self.organisation = manifest.get("organisation") or ""
        self.level = str(manifest["pdf"].get("pdfa") or "2b")
        self.registrations = _registrations(manifest, catalog_row)

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

    def write(self, reps: list[_Rep], manifest_path: Path) -> int:
        m = self.manifest
        written = []
        for representation in reps:
            base = f"representations/{representation.name}/"
            data = self._copy(representation.source, f"{base}data/{representation.source.name}",
                              representation.mimetype, m.get("run_end"))
            if data.sha256 != representation.sha256:
                raise VerificationError(f"the copy of {representation.source} differs from the original; "
                                        "disk or memory fault?")
            extras = []
            for source, mimetype, wanted in representation.extra:
                extras.append(self._copy(source, f"{base}data/{source.name}", mimetype, m.get("run_end")))
                if extras[-1].sha256 != wanted:
                    raise VerificationError(f"the copy of {source} differs from the original; disk or memory fault?")
            premis_file = self._write_xml(f"{base}metadata/preservation/premis.xml",
                                          rep_premis(self, representation, data, base, extras))
            written.append((representation, data, self._write_xml(
                f"{base}METS.xml", self._rep_mets(representation, data, premis_file, base, extras))))
        manifest_created = iso(datetime.fromtimestamp(manifest_path.stat().st_mtime, UTC))
        manifest_file = self._copy(manifest_path, "metadata/other/manifest.json", "application/json",
                                   manifest_created)
        token_path = manifest_path.with_name(TOKEN_NAME)
        token_file = None
        if token_path.is_file():
            token_created = iso(datetime.fromtimestamp(token_path.stat().st_mtime, UTC))
            token_file = self._copy(token_path, f"metadata/other/{TOKEN_NAME}", "application/timestamp-reply",
                                    token_created)
        dc = self._write_xml("metadata/descriptive/dc.xml", dublin_core(self))
        erms = erms_document(self, [{"href": f"../../{data.href()}", "name": representation.source.name,
                                     "format": representation.format_name}
                                    for representation, data, _mets in written], self.cases)
        erms_file = self._write_xml("metadata/descriptive/erms.xml", erms) if erms is not None else None
        premis = self._write_xml("metadata/preservation/premis.xml", package_premis(self, reps))
        schemas = [self._copy(SCHEMAS_DIR / name, f"schemas/{name}", XML_MIME, None) for name in SCHEMA_FILES
                   if name != ERMS_SCHEMA or erms_file is not None]
        readme_file = self._write("documentation/README.txt", readme(self, written).encode("utf-8"), "text/plain")
        self._write_xml("METS.xml", self._package_mets(dc, premis, manifest_file, schemas, readme_file, written,
                                                       token_file, erms_file))
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
                      readme: _File, written: list, token_file: _File | None = None,
                      erms_file: _File | None = None) -> ET.Element:
        mets = self._mets_root(self.objid, "schemas/")
        self._md_ref(mets, "mets:dmdSec", "dmd-dc", dc, "DC")
        dmdids = "dmd-dc"
        if erms_file is not None:
            self._md_ref(mets, "mets:dmdSec", "dmd-erms", erms_file, "OTHER", OTHERMDTYPE="ERMS",
                         MDTYPEVERSION=ERMS_VERSION)
            dmdids += " dmd-erms"
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
        for representation, _data, rep_mets in written:
            self._file_group(file_sec, f"Representations/{representation.name}", f"grp-{representation.name}",
                             [rep_mets])

        struct = ET.SubElement(mets, q("mets:structMap"), {"ID": "structmap-csip", "TYPE": "PHYSICAL", "LABEL": "CSIP"})
        package = self._div(struct, "div-package", self.objid)
        self._div(package, "div-metadata", "Metadata", ADMID=admids, DMDID=dmdids)
        for label, group in (("Documentation", "grp-documentation"), ("Schemas", "grp-schemas")):
            ET.SubElement(self._div(package, f"div-{label.lower()}", label), q("mets:fptr"), {"FILEID": group})
        representations = self._div(package, "div-representations", "Representations")
        for representation, _data, rep_mets in written:
            ET.SubElement(representations, q("mets:fptr"), {"FILEID": f"grp-{representation.name}"})
        for representation, _data, rep_mets in written:
            rep_div = self._div(representations, f"div-{representation.name}",
                                f"Representations/{representation.name}")
            ET.SubElement(rep_div, q("mets:mptr"), {
                "LOCTYPE": "URL", q("xlink:type"): "simple", q("xlink:href"): rep_mets.href(),
                q("xlink:title"): f"grp-{representation.name}"})
        return mets

    def _rep_mets(self, representation: _Rep, data: _File, rep_premis: _File, base: str,
                  extras: list[_File] = ()) -> ET.Element:
        ident = representation.name
        mets = self._mets_root(ident, "../../schemas/")
        amd = ET.SubElement(mets, q("mets:amdSec"), {"ID": f"{ident}-amd"})
        self._md_ref(amd, "mets:digiprovMD", f"{ident}-digiprov-premis", rep_premis, "PREMIS", base=base,
                     MDTYPEVERSION="3.0")
        file_sec = ET.SubElement(mets, q("mets:fileSec"), {"ID": f"{ident}-filesec"})
        data_format = {
            q("sip:FILEFORMATNAME"): representation.format_name,
            q("sip:FILEFORMATVERSION"): representation.format_version,
            **({q("sip:FILEFORMATREGISTRY"): "PRONOM", q("sip:FILEFORMATKEY"): representation.pronom}
               if representation.pronom else {}),
        }
        formats = {data.rel: data_format} | {
            e.rel: {q("sip:FILEFORMATNAME"): JSON_FORMAT["name"], q("sip:FILEFORMATVERSION"): JSON_FORMAT["version"],
                    q("sip:FILEFORMATREGISTRY"): "PRONOM", q("sip:FILEFORMATKEY"): JSON_FORMAT["pronom"]}
            for e in extras if e.mimetype == "application/json"}
        self._file_group(file_sec, "Data", f"{ident}-grp-data", [data, *extras], base=base, formats=formats)
        struct = ET.SubElement(mets, q("mets:structMap"), {"ID": f"{ident}-structmap-csip", "TYPE": "PHYSICAL",
                                                           "LABEL": "CSIP"})
        top = self._div(struct, f"{ident}-div", ident)
        self._div(top, f"{ident}-div-metadata", "Metadata", ADMID=f"{ident}-digiprov-premis")
        ET.SubElement(self._div(top, f"{ident}-div-data", "Data"), q("mets:fptr"), {"FILEID": f"{ident}-grp-data"})
        return mets

def _registrations(manifest: dict, catalog_row: dict | None) -> list[dict]:
    """The manifest's registrations, and any the catalog has that the manifest lacks (normally none)."""
    found = [dict(r) for r in manifest.get("registrations", [])]
    known = {r.get("dnr") for r in found}
    for row in (catalog_row or {}).get("registrations", []):
        if row.get("dnr") not in known:
            at = row.get("registered_at")
            found.append({"dnr": row["dnr"], "registered_by": row.get("registered_by"),
                          "registered_at": iso(at) if isinstance(at, datetime) else at,
                          **{key: row.get(key) for key in CASE_FIELDS if row.get(key) is not None}})
    return found


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

