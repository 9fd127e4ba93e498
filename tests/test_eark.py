"""`archiver bundles export --format eark-sip`: an E-ARK SIP that the independent eark-validator accepts.

One real bundle (a page captured and a page that fails, then registered) is made per module and exported
once; the tests read that package. eark-validator downloads four CSIP vocabularies when it is imported:
they are served from tests/fixtures/eark-vocabularies instead, so the tests run offline.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import register_yaml, run_cli
from eark_check import assert_eark_valid, eark_verdict

import archiver
from archiver.bundle import eark
from archiver.errors import BadInputError, VerificationError

NS = {"mets": eark.NS["mets"], "xlink": eark.NS["xlink"], "csip": eark.NS["csip"], "dc": eark.NS["dc"],
      "premis": eark.NS["premis"]}
HREF = f"{{{NS['xlink']}}}href"
# Rules about the package as a whole that the validator also applies to a representation's METS.
PACKAGE_LEVEL_RULES = {"CSIP60", "CSIP95", "CSIP113", "CSIP99", "CSIP114", "CSIP103"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, site):
    """A real bundle (one page captured, one failed), registered, then exported as a SIP with --json."""
    tmp = tmp_path_factory.mktemp("eark")
    registry = tmp / "pages.yaml"
    registry.write_text(register_yaml([
        {"id": "short", "url": f"{site}/short.html", "platform": "facebook"},
        {"id": "gone", "url": f"{site}/gone"},
    ], tmp / "store", wacz=True), encoding="utf-8")
    run = run_cli("run", "--json", "--reason", "halvårsvis", "--by", "Registrator Rut", registry=registry)
    assert run.returncode == 1, run.stderr  # the failed page, as the bundle says
    out = json.loads(run.stdout)
    registered = run_cli("register", out["bundle_id"], "--dnr", "KS 2026/123", "--by", "Registrator Rut",
                         registry=registry)
    assert registered.returncode == 0, registered.stderr
    result = run_cli("bundles", "export", out["bundle_id"], "--format", "eark-sip", "--out", str(tmp / "sip"),
                     "--json", registry=registry)
    assert result.returncode == 0, result.stderr
    return {"registry": registry, "run": out, "export": json.loads(result.stdout), "out": tmp / "sip", "tmp": tmp}


def _files_of(mets_path: Path) -> list[tuple[Path, ET.Element]]:
    """Every file and metadata file a METS document references, resolved from its folder."""
    tree = ET.parse(mets_path)
    refs = []
    for element in tree.iter():
        if element.tag == f"{{{NS['mets']}}}file":
            href = element.find("mets:FLocat", NS).get(HREF)
        elif element.tag == f"{{{NS['mets']}}}mdRef":
            href = element.get(HREF)
        else:
            continue
        refs.append((mets_path.parent / href, element))
    return refs


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.browser
def test_export_json_names_the_package(exported):
    bundle_id = exported["run"]["bundle_id"]
    report = exported["export"]
    assert set(report) == {"sip", "files", "objid"}
    assert report["objid"] == f"gotene-kommun-test-{bundle_id}"
    sip = Path(report["sip"])
    assert sip == exported["out"] / report["objid"] and sip.is_dir()
    # 12 for the PDF/A's package, 3 more for rep2, the WACZ of the same visit (its data, METS and PREMIS), and
    # the registered bundle's erms.xml with the ERMS schema.
    assert report["files"] == sum(1 for p in sip.rglob("*") if p.is_file()) == 17
    assert [p.name for p in exported["out"].iterdir()] == [report["objid"]]  # no staging folder left


@pytest.mark.browser
def test_the_wacz_is_a_second_representation_with_its_mime_type(exported):
    """An e-archive that takes WARC finds the web archive as rep2; one that does not can leave it."""
    sip = Path(exported["export"]["sip"])
    manifest = json.loads((sip / "metadata" / "other" / "manifest.json").read_text(encoding="utf-8"))
    wacz = sip / "representations" / "rep2" / "data" / manifest["wacz"]["file"]
    assert _sha256(wacz) == manifest["wacz"]["sha256"]
    rep_mets = ET.parse(sip / "representations" / "rep2" / "METS.xml").getroot()
    (data,) = rep_mets.findall("mets:fileSec/mets:fileGrp[@USE='Data']/mets:file", NS)
    assert data.get("MIMETYPE") == "application/wacz" and data.get("CHECKSUM") == manifest["wacz"]["sha256"]
    assert data.get("{https://DILCIS.eu/XML/METS/SIPExtensionMETS}FILEFORMATNAME") == "WACZ"
    package = ET.parse(sip / "METS.xml").getroot()
    uses = [g.get("USE") for g in package.findall("mets:fileSec/mets:fileGrp", NS)]
    assert uses == ["Documentation", "Schemas", "Representations/rep1", "Representations/rep2"]
    hrefs = [m.get(HREF) for m in package.iter(f"{{{NS['mets']}}}mptr")]
    assert hrefs == ["representations/rep1/METS.xml", "representations/rep2/METS.xml"]


@pytest.mark.browser
def test_a_registered_bundles_erms_xml_links_the_pdf_and_the_wacz_and_is_valid(exported):
    """A real capture's package (tests/test_cases.py covers the case record itself): erms.xml names both
    representations' files, valid against the ERMS schema the package carries, by lxml and the JDK."""
    from eark_check import jdk_xsd_check
    from lxml import etree

    sip = Path(exported["export"]["sip"])
    erms, xsd = sip / "metadata" / "descriptive" / "erms.xml", sip / "schemas" / "ERMS_v2_1_2.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    assert schema.validate(etree.parse(str(erms))), schema.error_log
    assert jdk_xsd_check([erms], schema=xsd).returncode == 0
    ns = {"e": "https://DILCIS.eu/XML/ERMS"}
    paths = [a.get("path") for a in etree.parse(str(erms)).iterfind(".//e:record//e:appendix", ns)]
    assert [Path(p).parts[2:5] for p in paths] == [("representations", "rep1", "data"), ("representations", "rep2", "data")]
    assert all((erms.parent / p).resolve().is_file() for p in paths)


@pytest.mark.browser
def test_eark_validator_finds_no_errors(exported, eark_validator):
    sip = Path(exported["export"]["sip"])
    report, _unexpected, _errors, verdict = eark_verdict(eark_validator, sip)
    print(verdict)
    assert_eark_valid(eark_validator, sip)
    assert report.package.details.oaispackagetype == "SIP"
    # The software agent the SIP14 error is about is exactly the one CSIP10-16 require.
    mets = ET.parse(sip / "METS.xml").getroot()
    creators = mets.findall("mets:metsHdr/mets:agent[@ROLE='CREATOR']", NS)
    assert len(creators) == 1 and creators[0].get("OTHERTYPE") == "SOFTWARE"


@pytest.mark.browser
def test_representation_mets_is_valid_too(exported, eark_validator):
    """The validator checks only the package's METS; the representation's is held to the same rules here."""
    rep = Path(exported["export"]["sip"]) / "representations" / "rep1"
    schema = eark_validator["MetsValidator"](str(rep))
    assert schema.validate_mets("METS.xml"), schema.validation_errors
    profile = eark_validator["rules"].ValidationProfile(eark_validator["SpecificationType"].CSIP,
                                                        eark_validator["SpecificationVersion"].V2_1_0)
    profile.validate(str(rep / "METS.xml"))
    errors = {m.rule_id for m in profile.get_all_results() if m.severity.value == "Error"}
    assert errors <= PACKAGE_LEVEL_RULES, errors - PACKAGE_LEVEL_RULES


@pytest.mark.browser
def test_mets_checksums_sizes_and_references_match_the_files(exported):
    sip = Path(exported["export"]["sip"])
    referenced = set()
    for mets_path in (sip / "METS.xml", sip / "representations" / "rep1" / "METS.xml",
                      sip / "representations" / "rep2" / "METS.xml"):
        for path, element in _files_of(mets_path):
            assert path.is_file(), path
            assert element.get("CHECKSUMTYPE") == "SHA-256"
            assert element.get("CHECKSUM") == _sha256(path), path
            assert int(element.get("SIZE")) == path.stat().st_size, path
            assert element.get("MIMETYPE") and element.get("CREATED"), path
            referenced.add(path.resolve())
    files = {p.resolve() for p in sip.rglob("*") if p.is_file()}
    assert files - referenced == {(sip / "METS.xml").resolve()}  # everything else is accounted for


@pytest.mark.browser
def test_pdf_and_manifest_are_byte_identical_to_the_stored_bundle(exported):
    sip = Path(exported["export"]["sip"])
    stored_pdf = Path(exported["run"]["pdf"])
    pdf = sip / "representations" / "rep1" / "data" / stored_pdf.name
    assert pdf.read_bytes() == stored_pdf.read_bytes()
    assert (sip / "metadata" / "other" / "manifest.json").read_bytes() == Path(exported["run"]["manifest"]).read_bytes()


@pytest.mark.browser
def test_structure_agents_and_descriptive_metadata(exported):
    sip = Path(exported["export"]["sip"])
    bundle_id = exported["run"]["bundle_id"]
    mets = ET.parse(sip / "METS.xml").getroot()
    assert mets.get("OBJID") == sip.name
    assert mets.get("PROFILE") == "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"
    assert mets.get(f"{{{NS['csip']}}}CONTENTINFORMATIONTYPE") == "OTHER"
    header = mets.find("mets:metsHdr", NS)
    assert header.get(f"{{{NS['csip']}}}OAISPACKAGETYPE") == "SIP"
    software = header.find("mets:agent[@ROLE='CREATOR'][@TYPE='OTHER']", NS)
    assert software.findtext("mets:name", namespaces=NS) == "archiver"
    note = software.find("mets:note", NS)
    assert note.text == archiver.__version__ and note.get(f"{{{NS['csip']}}}NOTETYPE") == "SOFTWARE VERSION"
    archivist = header.find("mets:agent[@ROLE='ARCHIVIST'][@TYPE='ORGANIZATION']", NS)
    assert archivist.findtext("mets:name", namespaces=NS) == "Götene kommun (test)"

    struct = mets.find("mets:structMap[@LABEL='CSIP']", NS)
    assert struct.get("TYPE") == "PHYSICAL"
    package = struct.find("mets:div", NS)
    assert [d.get("LABEL") for d in package.findall("mets:div", NS)] == [
        "Metadata", "Documentation", "Schemas", "Representations"]
    mptr = package.find("mets:div[@LABEL='Representations']/mets:div[@LABEL='Representations/rep1']/mets:mptr", NS)
    assert mptr.get(HREF) == "representations/rep1/METS.xml"
    uses = [g.get("USE") for g in mets.findall("mets:fileSec/mets:fileGrp", NS)]
    assert uses == ["Documentation", "Schemas", "Representations/rep1", "Representations/rep2"]

    dc = ET.parse(sip / "metadata" / "descriptive" / "dc.xml").getroot()
    assert dc.findtext("dc:title", namespaces=NS) == "Skärmdumpar av sociala medier – Götene kommun (test)"
    identifiers = [e.text for e in dc.findall("dc:identifier", NS)]
    assert identifiers == [bundle_id, "KS 2026/123"]
    description = " ".join(e.text for e in dc.findall("dc:description", NS))
    assert "Anledning: halvårsvis" in description and "Registrator Rut" in description
    assert "Ej tagen: gone" in description
    start, end = dc.findtext("dc:date", namespaces=NS).split("/")
    manifest = json.loads(Path(exported["run"]["manifest"]).read_text(encoding="utf-8"))
    assert (start, end) == (manifest["run_start"], manifest["run_end"])

    premis = ET.parse(sip / "representations" / "rep1" / "metadata" / "preservation" / "premis.xml").getroot()
    assert premis.findtext(".//premis:messageDigest", namespaces=NS) == manifest["pdf"]["sha256"]
    assert premis.findtext(".//premis:formatRegistryKey", namespaces=NS) == "fmt/477"  # PDF/A-2b in PRONOM
    assert premis.findtext(".//premis:eventOutcome", namespaces=NS) == "partial success"


@pytest.mark.browser
def test_mets_files_validate_against_the_schemas_shipped_in_the_package(exported):
    lxml_etree = pytest.importorskip("lxml.etree")
    sip = Path(exported["export"]["sip"])
    schema = lxml_etree.XMLSchema(lxml_etree.parse(str(sip / "schemas" / "mets.xsd")))
    for mets_path in (sip / "METS.xml", sip / "representations" / "rep1" / "METS.xml"):
        document = lxml_etree.parse(str(mets_path))
        assert schema.validate(document), (mets_path, schema.error_log)


@pytest.mark.browser
def test_exporting_twice_refuses_with_exit_2_and_changes_nothing(exported):
    sip = Path(exported["export"]["sip"])
    before = {p: p.stat().st_mtime_ns for p in sip.rglob("*")}
    again = run_cli("bundles", "export", exported["run"]["bundle_id"], "--format", "eark-sip",
                    "--out", str(exported["out"]), registry=exported["registry"])
    assert again.returncode == 2, again.stderr
    assert "already exists" in again.stderr and again.stdout == ""
    assert {p: p.stat().st_mtime_ns for p in sip.rglob("*")} == before
    assert [p.name for p in exported["out"].iterdir()] == [sip.name]


@pytest.mark.browser
def test_export_from_a_bundle_folder_path(exported):
    """A copied bundle folder (as `bundles get` writes it) exports to the same package."""
    copy = exported["tmp"] / "copy"
    copy.mkdir()
    for name in (Path(exported["run"]["pdf"]).name, "manifest.json"):
        shutil.copyfile(Path(exported["run"]["pdf"]).parent / name, copy / name)
    missing = run_cli("bundles", "export", str(copy), "--out", str(exported["tmp"] / "sip-missing"),
                      registry=exported["registry"])
    assert missing.returncode == 2 and "which is not there" in missing.stderr  # the WACZ the manifest names
    wacz = Path(exported["run"]["wacz"]["file"])
    shutil.copyfile(wacz, copy / wacz.name)
    result = run_cli("bundles", "export", str(copy), "--out", str(exported["tmp"] / "sip2"), "--json",
                     registry=exported["registry"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["objid"] == exported["export"]["objid"]

    (copy / Path(exported["run"]["pdf"]).name).write_bytes(b"%PDF-1.7 not the bundle's PDF")
    tampered = run_cli("bundles", "export", str(copy), "--out", str(exported["tmp"] / "sip3"),
                       registry=exported["registry"])
    assert tampered.returncode == 1 and "does not match" in tampered.stderr
    assert not (exported["tmp"] / "sip3").exists() or not any((exported["tmp"] / "sip3").iterdir())


def test_unknown_bundle_ids_and_paths_exit_2(tmp_path):
    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "short", "url": "http://127.0.0.1:9/short.html"}], tmp_path / "s"),
                        encoding="utf-8")
    out = tmp_path / "out"
    for target in ("20261124T000000Z-000000", "../../etc", str(tmp_path)):
        result = run_cli("bundles", "export", target, "--format", "eark-sip", "--out", str(out), registry=registry)
        assert result.returncode == 2, (target, result.stderr)
        assert result.stdout == ""
    assert not out.exists()
    bad_format = run_cli("bundles", "export", "20261124T000000Z-000000", "--format", "zip", "--out", str(out),
                         registry=registry)
    assert bad_format.returncode == 2 and "eark-sip" in bad_format.stderr


# --- The builder on its own, with a made-up bundle (no browser) --------------------------------------------

@pytest.fixture
def fake_bundle(tmp_path):
    bundle_id = "20260101T120000Z-abc123"
    folder = tmp_path / "bundle"
    folder.mkdir()
    pdf = folder / f"{bundle_id}.pdf"
    pdf.write_bytes(b"%PDF-1.7\n% not really a PDF/A, but the builder only copies and hashes it\n")
    manifest = {
        "manifest_version": 1, "bundle_id": bundle_id, "organisation": "Åre kommun", "reason": "scheduled",
        "requested_by": "cron", "run_start": "2026-01-01T12:00:00.000Z", "run_end": "2026-01-01T12:01:00.000Z",
        "tool": {"name": "archiver", "version": "0.1.0"}, "browser": "Chromium 1",
        "pdf": {"file": pdf.name, "sha256": _sha256(pdf), "bytes": pdf.stat().st_size, "pdfa": "1b"},
        "hash_definitions": {}, "pages": [], "failures": [], "registrations": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_package_id_is_an_ascii_slug_of_the_organisation_and_the_bundle_id():
    assert eark.organisation_slug("Götene kommun") == "gotene-kommun"
    assert eark.organisation_slug("Åre kommun (test)") == "are-kommun-test"
    assert eark.organisation_slug("") == "archiver"
    assert eark.package_id({"organisation": "Öckerö kommun", "bundle_id": "20260101T120000Z-abc123"}) == (
        "ockero-kommun-20260101T120000Z-abc123")


def test_builder_writes_a_pdfa_1b_package(fake_bundle, tmp_path):
    result = eark.build_sip(fake_bundle, tmp_path / "out")
    assert result.objid == "are-kommun-20260101T120000Z-abc123" and result.files == 12
    rep_mets = ET.parse(result.path / "representations" / "rep1" / "METS.xml").getroot()
    pdf_file = rep_mets.find(".//mets:file", NS)
    assert pdf_file.get(f"{{{eark.NS['sip']}}}FILEFORMATKEY") == "fmt/354"  # PDF/A-1b in PRONOM
    assert pdf_file.find("mets:FLocat", NS).get(HREF) == "data/20260101T120000Z-abc123.pdf"


def test_a_crash_while_building_leaves_nothing_behind(fake_bundle, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(eark._Writer, "_package_mets", fail)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space left"):
        eark.build_sip(fake_bundle, out)
    assert list(out.iterdir()) == []


def test_a_pdf_that_does_not_match_its_manifest_is_not_exported(fake_bundle, tmp_path):
    pdf = next(fake_bundle.glob("*.pdf"))
    pdf.write_bytes(pdf.read_bytes() + b"%")
    with pytest.raises(VerificationError, match="does not match"):
        eark.build_sip(fake_bundle, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_existing_package_folder_is_never_overwritten(fake_bundle, tmp_path):
    out = tmp_path / "out"
    (out / "are-kommun-20260101T120000Z-abc123").mkdir(parents=True)
    with pytest.raises(BadInputError, match="already exists") as info:
        eark.build_sip(fake_bundle, out)
    assert info.value.exit_code == 2
    assert [p.name for p in out.iterdir()] == ["are-kommun-20260101T120000Z-abc123"]


def test_a_post_bundle_exports_as_a_post_with_its_class(tmp_path, eark_validator):
    from synthetic import store_bundle

    from archiver.services import Services

    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "kommun", "url": "http://127.0.0.1:8123/"}], tmp_path / "store"),
                        encoding="utf-8")
    bundle_id = store_bundle(Services(registry), "evidence", 1)
    result = run_cli("bundles", "export", bundle_id, "--out", str(tmp_path / "sip"), "--json", registry=registry)
    assert result.returncode == 0, result.stderr
    sip = Path(json.loads(result.stdout)["sip"])
    dc = ET.parse(sip / "metadata" / "descriptive" / "dc.xml").getroot()
    texts = {el.tag.split("}")[1]: [] for el in dc}
    for el in dc:
        texts[el.tag.split("}")[1]].append(el.text)
    assert texts["title"] == ["Inlägg i sociala medier – Götene kommun (test)"]
    assert any(s.startswith("Bevis om brottsligt innehåll") for s in texts["subject"])
    assert any("författare som visat: Götene kommun" in d for d in texts["description"])
    report = eark_validator["packages"].PackageValidator(sip).validation_report
    assert report.structure.status.name == "WELLFORMED" and report.metadata.schema_results.status.name == "VALID"


def test_the_cli_offers_exactly_the_export_formats_there_are():
    from archiver.bundle import registry
    from archiver.cli.bundles import EXPORT_FORMATS

    assert EXPORT_FORMATS == eark.FORMATS + registry.FORMATS
