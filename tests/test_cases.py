"""The registrar's record: a registration is a document in a case, a year's captures can share one
collective case, and a registered bundle's SIP carries erms.xml (CITS ERMS 2.1.2), checked with lxml
and the JDK against the official schema the package ships, and with eark-validator.

The bundles are real (PDF/A, manifest, store, catalog; tests/synthetic.py), made without a browser.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_cli
from eark_check import assert_eark_valid, jdk_xsd_check
from lxml import etree
from synthetic import store_bundle

from archiver.registration import RegistrationRequest, parse_secrecy, plan, secrecy_words
from archiver.services import Services

ERMS = "https://DILCIS.eu/XML/ERMS"
NS = {"e": ERMS, "mets": "http://www.loc.gov/METS/", "xlink": "http://www.w3.org/1999/xlink"}
# The official CITS ERMS 2.1.2 schema, unchanged (archiver/bundle/eark_schemas/README.md names its source).
OFFICIAL_ERMS_SHA256 = "f366b7fe3dd79774863fdb52688a7390b469e7517c23f682ea6f732f07f97877"
MAY_2026 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
NOVEMBER_2026 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
JANUARY_2027 = datetime(2027, 1, 11, 8, 0, tzinfo=UTC)


def _register_file(tmp_path: Path, registration: str = "", organisation: str = "Götene kommun") -> Path:
    path = tmp_path / "pages.yaml"
    path.write_text(f"""organisation: {organisation}
storage:
  local: {json.dumps(str(tmp_path / "store"))}
bundle:
  wacz: false
{registration}pages:
  - id: kommun
    platform: facebook
    url: https://www.facebook.com/gotenekommun
    owner: Kommunikation
""", encoding="utf-8")
    return path


YEARLY = """registration:
  collective_case: yearly
  classification: "1.4.2"
  case_title: "Dokumentation av sociala medier {year}"
"""


def _cli(registry: Path, *args: str):
    return run_cli(*args, registry=registry)


# -- the plan, without a catalog ------------------------------------------------------------------------------

def _manifest(started: datetime, reason: str = "scheduled") -> dict:
    return {"bundle_id": "b", "run_start": started.isoformat().replace("+00:00", "Z"), "reason": reason,
            "pages": [{"id": "kommun", "status": "ok"}]}


def _plan(request, started=MAY_2026, cases=None, documents=None, **settings):
    cases = cases or {}
    return plan(request, _manifest(started), case_for=cases.get,
                collective_case_for=lambda year: next((c for c in cases.values() if c.get("collective_year") == year),
                                                      None),
                documents_of=lambda dnr: (documents or {}).get(dnr, {}), **settings)


def test_a_yearly_collective_case_is_opened_by_the_years_first_registration_and_joined_by_the_next():
    yearly = {"collective": "yearly", "default_title": "Dokumentation av sociala medier {year}",
              "default_classification": "1.4.2"}
    with pytest.raises(Exception, match="no collective case for 2026 yet"):
        _plan(RegistrationRequest("Rut"), **yearly)
    first = _plan(RegistrationRequest("Rut", "KS 2026/123"), **yearly)
    assert first.new_case == {"dnr": "KS 2026/123", "title": "Dokumentation av sociala medier 2026",
                              "classification": "1.4.2", "collective_year": 2026}
    assert (first.entry["document_no"], first.entry["secrecy"]) == (1, "none")
    case = first.new_case
    second = _plan(RegistrationRequest("Rut"), NOVEMBER_2026, {"KS 2026/123": case}, {"KS 2026/123": {1: "a"}},
                   **yearly)
    assert second.new_case is None
    assert (second.entry["dnr"], second.entry["document_no"], second.entry["case_title"]) == (
        "KS 2026/123", 2, "Dokumentation av sociala medier 2026")
    # January: 2026's case is not 2027's; the new year's first registration opens its own.
    with pytest.raises(Exception, match="no collective case for 2027 yet"):
        _plan(RegistrationRequest("Rut"), JANUARY_2027, {"KS 2026/123": case}, **yearly)
    assert _plan(RegistrationRequest("Rut", "KS 2027/5"), JANUARY_2027, {"KS 2026/123": case},
                 **yearly).new_case["collective_year"] == 2027


def test_a_case_never_disagrees_with_itself():
    case = {"dnr": "KS 2026/9", "title": "Beslut om badplatser", "classification": "3.1", "collective_year": None}
    cases, docs = {"KS 2026/9": case}, {"KS 2026/9": {1: "a", 2: "b"}}
    with pytest.raises(Exception, match="already has the title 'Beslut om badplatser'"):
        _plan(RegistrationRequest("Rut", "KS 2026/9", case_title="Något annat"), cases=cases, documents=docs)
    with pytest.raises(Exception, match="already has the classification '3.1'"):
        _plan(RegistrationRequest("Rut", "KS 2026/9", classification="9.9"), cases=cases, documents=docs)
    with pytest.raises(Exception, match="document 2 of case KS 2026/9 is already bundle b; the next free number is 3"):
        _plan(RegistrationRequest("Rut", "KS 2026/9", document_no=2), cases=cases, documents=docs)
    given = _plan(RegistrationRequest("Rut", "KS 2026/9", document_no=7, case_title="Beslut om badplatser"),
                  cases=cases, documents=docs)
    assert (given.entry["document_no"], given.entry["classification"]) == (7, "3.1")
    with pytest.raises(Exception, match="give the diarienummer"):
        _plan(RegistrationRequest("Rut"))  # no collective case in the register: a number is needed


def test_secrecy_is_none_or_an_osl_chapter_and_section():
    assert [parse_secrecy(s) for s in (None, "none", "OSL:21:7", "OSL: 26 : 1", "OSL:18:8a")] == [
        "none", "none", "OSL:21:7", "OSL:26:1", "OSL:18:8a"]
    assert secrecy_words("OSL:21:7") == "21 kap. 7 § offentlighets- och sekretesslagen (2009:400)"
    assert secrecy_words("none") is None
    for bad in ("secret", "OSL:21", "PUL:1:2", "OSL:x:7"):
        with pytest.raises(Exception, match="secrecy must be 'none' or 'OSL:<chapter>:<section>'"):
            parse_secrecy(bad)


# -- the whole thing: two captures of one year in one collective case --------------------------------------

@pytest.fixture(scope="module")
def year_case(tmp_path_factory):
    """Two scheduled runs of 2026 and one of 2027, registered under `collective_case: yearly`; the 2026
    ones exported as SIPs and as registry records."""
    tmp = tmp_path_factory.mktemp("cases")
    registry = _register_file(tmp, YEARLY)
    services = Services(registry)
    may, november = store_bundle(services, None, 1, MAY_2026), store_bundle(services, None, 2, NOVEMBER_2026)
    january = store_bundle(services, None, 3, JANUARY_2027)
    results = {
        "no-case-yet": _cli(registry, "register", may, "--by", "Registrator Rut"),
        "may": _cli(registry, "register", may, "--dnr", "KS 2026/123", "--by", "Registrator Rut", "--json"),
        "november": _cli(registry, "register", november, "--by", "Registrator Rut", "--secrecy", "OSL:21:7", "--json"),
        "again": _cli(registry, "register", november, "--by", "Registrator Rut", "--json"),
        "january": _cli(registry, "register", january, "--by", "Registrator Rut"),
        "case": _cli(registry, "cases", "show", "KS 2026/123", "--json"),
        "export": _cli(registry, "bundles", "export", may, november, "--format", "eark-sip", "--out",
                       str(tmp / "sip"), "--json"),
        "registry-json": _cli(registry, "bundles", "export", may, november, "--format", "registry-json"),
        "registry-csv": _cli(registry, "bundles", "export", may, november, "--format", "registry-csv",
                             "--out", str(tmp / "registry")),
    }
    return {"tmp": tmp, "registry": registry, "ids": (may, november, january), "results": results}


def test_the_case_record_names_both_bundles_as_documents_of_one_diarienummer(year_case):
    r, (may, november, _january) = year_case["results"], year_case["ids"]
    refused = r["no-case-yet"]
    assert refused.returncode == 2 and "no collective case for 2026 yet" in refused.stderr, refused.stderr
    assert r["may"].returncode == 0 and r["november"].returncode == 0, r["may"].stderr + r["november"].stderr
    assert json.loads(r["may"].stdout)["opened_case"] is True
    assert json.loads(r["again"].stdout)["already"] is True  # the same command twice changes nothing
    case = json.loads(r["case"].stdout)
    assert (case["dnr"], case["title"], case["classification"], case["collective_year"]) == (
        "KS 2026/123", "Dokumentation av sociala medier 2026", "1.4.2", 2026)
    assert [(d["document_no"], d["bundle_id"], d["secrecy"]) for d in case["documents"]] == [
        (1, may, "none"), (2, november, "OSL:21:7")]
    january = r["january"]  # 2027 has no case yet, and 2026's is not joined across the year
    assert january.returncode == 2 and "no collective case for 2027 yet" in january.stderr


def test_manifest_catalog_and_audit_trail_carry_the_case_record(year_case):
    registry, (_may, november, _january) = year_case["registry"], year_case["ids"]
    services = Services(registry)
    manifest = json.loads(services.store.path(november, "manifest.json").read_text(encoding="utf-8"))
    (entry,) = manifest["registrations"]
    assert {k: entry[k] for k in ("dnr", "document_no", "case_title", "classification", "secrecy", "registered_by")} == {
        "dnr": "KS 2026/123", "document_no": 2, "case_title": "Dokumentation av sociala medier 2026",
        "classification": "1.4.2", "secrecy": "OSL:21:7", "registered_by": "Registrator Rut"}
    assert entry["document_title"].startswith("Skärmbilder av kommun 2026-11-02")
    (row,) = services.catalog.get_bundle(november)["registrations"]
    assert (row["document_no"], row["secrecy"], row["classification"]) == (2, "OSL:21:7", "1.4.2")
    trail = services.catalog.audit_log(bundle_id=november)
    registered = next(e for e in trail if e["action"] == "bundle.registered")
    assert registered["detail"]["document_no"] == 2 and registered["detail"]["secrecy"] == "OSL:21:7"
    verified = run_cli("bundles", "verify", november, registry=registry)  # the manifest changed; still verifies
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _sips(year_case) -> list[Path]:
    export = year_case["results"]["export"]
    assert export.returncode == 0, export.stderr
    return [Path(s["sip"]) for s in json.loads(export.stdout)]


def test_each_sip_carries_erms_xml_valid_against_the_official_schema_with_lxml_and_the_jdk(year_case):
    for sip in _sips(year_case):
        xsd = sip / "schemas" / "ERMS_v2_1_2.xsd"
        assert hashlib.sha256(xsd.read_bytes()).hexdigest() == OFFICIAL_ERMS_SHA256  # unchanged
        erms = sip / "metadata" / "descriptive" / "erms.xml"
        schema = etree.XMLSchema(etree.parse(str(xsd)))
        assert schema.validate(etree.parse(str(erms))), schema.error_log
        jdk = jdk_xsd_check([erms], schema=xsd)
        assert jdk.returncode == 0, jdk.stdout + jdk.stderr
        # And every METS and erms.xml against the schemas they name, as an e-archive's ingest reads them.
        named = jdk_xsd_check([sip / "METS.xml", *sip.glob("representations/*/METS.xml"), erms])
        assert named.returncode == 0 and named.stdout.count("valid ") == 3, named.stdout + named.stderr


def test_erms_xml_says_what_the_registrar_filed(year_case):
    may_sip, november_sip = _sips(year_case)
    doc = etree.parse(str(november_sip / "metadata" / "descriptive" / "erms.xml"))
    (case,) = doc.findall("e:aggregations/e:aggregation", NS)
    assert case.get("aggregationType") == "caseFile"
    assert case.findtext("e:objectId", namespaces=NS) == "KS 2026/123"
    assert case.findtext("e:title", namespaces=NS) == "Dokumentation av sociala medier 2026"
    assert case.find("e:classification", NS).get("classificationCode") == "1.4.2"
    assert case.findtext("e:agents/e:agent[@agentType='creator']/e:name", namespaces=NS) == "Götene kommun"
    (record,) = case.findall("e:record", NS)
    assert record.findtext("e:runningNumber", namespaces=NS) == "2"
    assert record.findtext("e:title", namespaces=NS).startswith("Skärmbilder av kommun 2026-11-02")
    restriction = record.find("e:restriction", NS)
    assert restriction.get("restrictionType") == "confidential"
    assert restriction.findtext("e:regulation", namespaces=NS) == "21 kap. 7 § offentlighets- och sekretesslagen (2009:400)"
    dates = {d.get("dateType"): d.text for d in record.findall("e:dates/e:date", NS)}
    assert set(dates) == {"start", "end", "created", "captured"} and dates["start"].startswith("2026-11-02T08:00")
    (appendix,) = record.findall("e:additionalInformation/e:appendix", NS)
    pdf = (november_sip / "metadata" / "descriptive" / appendix.get("path")).resolve()
    assert pdf.is_file() and pdf.parent == november_sip / "representations" / "rep1" / "data"
    # The ERMS schematron's co-occurrence rules: an "other" value names what it is.
    for element in doc.iter():
        for attribute, other in (("agentType", "otherAgentType"), ("dateType", "otherDateType"),
                                 ("restrictionType", "otherRestrictionType"), ("aggregationType", "otherAggregationType")):
            if element.get(attribute) in ("other", "other_type", "own_aggregation_definition"):
                assert (element.get(other) or "").strip(), etree.tostring(element)
    # The May bundle is document 1, public; the METS points at erms.xml from a dmdSec and the structMap.
    may = etree.parse(str(may_sip / "metadata" / "descriptive" / "erms.xml"))
    assert may.findtext(".//e:record/e:runningNumber", namespaces=NS) == "1"
    assert may.find(".//e:record/e:restriction", NS) is None
    mets = etree.parse(str(november_sip / "METS.xml"))
    (ref,) = mets.findall("mets:dmdSec[@ID='dmd-erms']/mets:mdRef", NS)
    assert (ref.get(f"{{{NS['xlink']}}}href"), ref.get("OTHERMDTYPE"), ref.get("MDTYPEVERSION")) == (
        "metadata/descriptive/erms.xml", "ERMS", "2.1.2")
    assert ref.get("CHECKSUM") == hashlib.sha256((november_sip / "metadata/descriptive/erms.xml").read_bytes()).hexdigest()
    assert "dmd-erms" in mets.find(".//mets:div[@ID='div-metadata']", NS).get("DMDID").split()


def test_eark_validator_accepts_the_registered_sips(year_case, eark_validator):
    for sip in _sips(year_case):
        print(assert_eark_valid(eark_validator, sip))


def test_the_registry_export_gives_one_record_per_bundle_with_the_files_hashes(year_case):
    r, (may, november, _january) = year_case["results"], year_case["ids"]
    assert r["registry-json"].returncode == 0, r["registry-json"].stderr
    records = json.loads(r["registry-json"].stdout)
    assert [(x["bundle_id"], x["dnr"], x["document_no"], x["secrecy"]) for x in records] == [
        (may, "KS 2026/123", 1, "none"), (november, "KS 2026/123", 2, "OSL:21:7")]
    store = Services(year_case["registry"]).store
    for record in records:
        assert record["creator"] == "Götene kommun" and record["classification"] == "1.4.2"
        assert record["date"] == record["captured_from"][:10]
        for file in record["files"]:
            assert hashlib.sha256(store.path(record["bundle_id"], file["name"]).read_bytes()).hexdigest() == file["sha256"]
        assert [f["role"] for f in record["files"]] == ["pdf", "manifest"]
    assert records[1]["secrecy_basis"] == "21 kap. 7 § offentlighets- och sekretesslagen (2009:400)"
    assert r["registry-csv"].returncode == 0, r["registry-csv"].stderr
    text = (year_case["tmp"] / "registry" / "registry.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [(row["dnr"], row["document_no"], row["pdf_sha256"]) for row in rows] == [
        (x["dnr"], str(x["document_no"]), x["files"][0]["sha256"]) for x in records]


def test_a_changed_pdf_is_not_exported_to_the_registry(tmp_path):
    registry = _register_file(tmp_path)
    services = Services(registry)
    bundle = store_bundle(services, None, 1)
    pdf = services.store.path(bundle, services.catalog.get_bundle(bundle)["pdf_name"])
    pdf.write_bytes(pdf.read_bytes() + b"%tampered\n")
    result = _cli(registry, "bundles", "export", bundle, "--format", "registry-json")
    assert result.returncode == 1 and "does not match the manifest's SHA-256" in result.stderr, result.stderr
    assert result.stdout == ""
    unregistered = _cli(registry, "bundles", "export", store_bundle(services, None, 2), "--format", "registry-json")
    (record,) = json.loads(unregistered.stdout)  # not registered yet: the diarium can create the document first
    assert record["dnr"] is None and record["title"].startswith("Skärmbilder av kommun")


def test_an_unregistered_bundles_sip_has_no_erms_and_no_erms_schema(tmp_path):
    registry = _register_file(tmp_path)
    bundle = store_bundle(Services(registry), None, 1)
    result = _cli(registry, "bundles", "export", bundle, "--format", "eark-sip", "--out", str(tmp_path / "sip"), "--json")
    sip = Path(json.loads(result.stdout)["sip"])
    assert not (sip / "metadata" / "descriptive" / "erms.xml").exists()
    assert not (sip / "schemas" / "ERMS_v2_1_2.xsd").exists()


@pytest.mark.parametrize(("setting", "problem"), [
    ("registration:\n  collective_case: monthly\n", "registration.collective_case"),
    ("registration:\n  case_title: \"Sociala medier {år}\"\n", "registration.case_title"),
    ("registration:\n  collective: yearly\n", "registration.collective"),
])
def test_bad_registration_settings_are_refused_with_file_and_line(tmp_path, setting, problem):
    registry = _register_file(tmp_path, setting)
    result = _cli(registry, "pages", "check")
    assert result.returncode == 2 and f"{registry}:7" in result.stderr and problem in result.stderr, result.stderr


def test_registering_from_the_command_line_refuses_a_bad_secrecy_and_a_taken_number(tmp_path):
    registry = _register_file(tmp_path)
    services = Services(registry)
    first, second = store_bundle(services, None, 1), store_bundle(services, None, 2)
    bad = _cli(registry, "register", first, "--dnr", "KS 2026/1", "--by", "Rut", "--secrecy", "hemlig")
    assert bad.returncode == 2 and "secrecy must be" in bad.stderr
    assert _cli(registry, "register", first, "--dnr", "KS 2026/1", "--by", "Rut").returncode == 0
    taken = _cli(registry, "register", second, "--dnr", "KS 2026/1", "--by", "Rut", "--document-no", "1")
    assert taken.returncode == 2 and f"document 1 of case KS 2026/1 is already bundle {first}" in taken.stderr
    assert Services(registry).catalog.get_bundle(second)["registrations"] == []  # nothing half-done
    no_dnr = _cli(registry, "register", second, "--by", "Rut")
    assert no_dnr.returncode == 2 and "give the diarienummer" in no_dnr.stderr


def test_a_registration_killed_after_the_manifest_is_replaced_is_completed_with_its_case(tmp_path):
    """The trail's announcement carries the whole record, so repair opens the case and numbers the document
    exactly as the interrupted command would have."""
    from faultkit import archiver

    registry = _register_file(tmp_path, YEARLY)
    bundle = store_bundle(Services(registry), None, 1, MAY_2026)
    killed = archiver(registry, "register", bundle, "--dnr", "KS 2026/77", "--by", "Rita", "--secrecy", "OSL:26:1",
                      point="archiver.store.local:LocalStore.replace_manifest:return")
    assert killed.returncode == -9, killed.stderr
    assert Services(registry).catalog.case("KS 2026/77") is None  # the catalog's transaction never ran
    synced = _cli(registry, "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    assert [r["outcome"] for r in json.loads(synced.stdout)["repaired"]] == ["completed"]
    case = json.loads(_cli(registry, "cases", "show", "KS 2026/77", "--json").stdout)
    assert (case["collective_year"], case["title"]) == (2026, "Dokumentation av sociala medier 2026")
    assert [(d["document_no"], d["bundle_id"], d["secrecy"]) for d in case["documents"]] == [(1, bundle, "OSL:26:1")]
