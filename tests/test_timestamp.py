"""Trusted timestamps (RFC 3161) over manifest.json, against a local TSA on 127.0.0.1 (tests/tsa.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import register_yaml, run_cli
from tsa import closed_port_url, make_pki, serve_tsa

from archiver.bundle import manifest as manifest_io
from archiver.bundle import timestamp
from archiver.bundle.verify import verify_bundle
from archiver.catalog import Catalog, catalog_url_for
from archiver.models import utcnow

OPENSSL = shutil.which("openssl")
DATA = b'{"bundle_id": "20261124T120000Z-abcdef"}\n'


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("other-pki"), "Other TSA")


@pytest.fixture(scope="module")
def tsa(pki):
    with serve_tsa(pki) as server:
        yield server


@pytest.fixture(autouse=True)
def _well_behaved(request):
    yield
    if "tsa" in request.fixturenames:
        request.getfixturevalue("tsa").mode = "ok"


def timestamp_registry(tmp: Path, site: str, settings: dict | None) -> Path:
    """A one-page register; `settings` become `bundle.timestamp` (written here, conftest has no keyword)."""
    text = register_yaml([{"id": "short", "url": f"{site}/short.html"}], tmp / "store", wacz=True)
    if settings is not None:
        block = "  timestamp:\n" + "".join(f"    {key}: {json.dumps(value)}\n"
                                           for key, value in settings.items())
        text = text.replace("\npages:\n", f"\n{block}pages:\n", 1)
    registry = tmp / "pages.yaml"
    registry.write_text(text, encoding="utf-8")
    return registry


def checks(result) -> dict[str, dict]:
    return {c["check"]: c for c in json.loads(result.stdout)["checks"]}


def timestamp_check(verify_result) -> tuple[str, bool, str]:
    found = [c for c in verify_result.checks if "timestamp" in c.name]
    assert len(found) == 1, verify_result.checks
    return found[0].name, found[0].ok, found[0].detail


# --- the client against the local TSA, no browser ---------------------------------------------------------

def test_token_from_the_local_tsa_is_checked_against_its_ca(tsa, pki):
    before = utcnow()
    body, stamp = timestamp.request_token(DATA, tsa.url, timeout_s=10, ca_file=pki.ca_pem)
    assert before - timedelta(seconds=2) <= stamp.gen_time <= utcnow() + timedelta(seconds=2)
    assert stamp.tsa == "CN=Test TSA,O=Testkommun" and stamp.ca_file == str(pki.ca_pem)
    query = tsa.requests[-1]
    assert hashlib.sha256(DATA).digest() in query  # the request carries SHA-256 of the data, not the data
    pinned = timestamp.check_response(body, hashlib.sha256(DATA).digest(), ca_file=pki.tsa_pem)
    assert pinned.serial == stamp.serial  # the TSA certificate itself as the trusted one works too


def test_token_from_openssl_ts_with_its_chain_is_read(pki):
    """`openssl ts -reply -chain` puts the certificates in chain order, which is BER, not DER: still read."""
    with serve_tsa(pki, engine="openssl") as server:
        _, stamp = timestamp.request_token(DATA, server.url, timeout_s=30, ca_file=pki.ca_pem)
    assert stamp.tsa == "CN=Test TSA,O=Testkommun"


@pytest.mark.parametrize(("mode", "message"), [
    ("wrong_imprint", "the token is over other bytes"),
    ("wrong_nonce", "not an answer to us"),
    ("other_key", "signature was not made by the key of its certificate"),
    ("reject", "the TSA refused the request: rejection: bad request (bad_data_format)"),
    ("garbage", "not a readable RFC 3161 time-stamp response"),
    ("http_error", "answered HTTP 503"),
])
def test_a_wrong_answer_is_refused(tsa, mode, message):
    tsa.mode = mode
    with pytest.raises(timestamp.TimestampError, match=message.replace("(", r"\(").replace(")", r"\)")):
        timestamp.request_token(DATA, tsa.url, timeout_s=10)


def test_a_tsa_under_another_ca_is_refused(other_pki, pki):
    with serve_tsa(other_pki) as other:
        body, _ = timestamp.request_token(DATA, other.url, timeout_s=10)  # its own signature is fine
        with pytest.raises(timestamp.TimestampError, match="is not issued under the trusted CA"):
            timestamp.request_token(DATA, other.url, timeout_s=10, ca_file=pki.ca_pem)
    with pytest.raises(timestamp.TimestampError, match="not issued under"):
        timestamp.check_response(body, hashlib.sha256(DATA).digest(), ca_file=pki.ca_pem)


def test_a_tsa_that_is_down_is_named():
    url = closed_port_url()
    with pytest.raises(timestamp.TimestampError, match=f"the TSA at {url} did not answer: .*refused"):
        timestamp.request_token(DATA, url, timeout_s=5)


# --- the register -----------------------------------------------------------------------------------------

def test_bad_timestamp_settings_are_refused_with_file_and_line(tmp_path):
    registry = timestamp_registry(tmp_path, "http://127.0.0.1:1", {
        "url": "ftp://tsa.example.se/", "timeout_s": 0, "ca_file": str(tmp_path / "missing.pem")})
    lines = registry.read_text().splitlines()
    start = lines.index("  timestamp:")
    line = {key: next(i for i, text in enumerate(lines, 1) if i > start and text.startswith(f"    {key}:"))
            for key in ("url", "timeout_s", "ca_file")}
    result = run_cli("pages", "check", registry=registry)
    assert result.returncode == 2, result.stderr
    assert (f"{registry}:{line['url']}: bundle.timestamp.url: URL must start with http:// or https://"
            in result.stderr)
    assert f"{registry}:{line['timeout_s']}: bundle.timestamp.timeout_s: must be more than 0" in result.stderr
    assert f"{registry}:{line['ca_file']}: bundle.timestamp.ca_file: cannot read" in result.stderr
    assert result.stdout == ""


def test_timestamp_settings_load(tmp_path, pki):
    from archiver.register import load_register

    registry = timestamp_registry(tmp_path, "http://127.0.0.1:1", {"url": "https://tsa.example.se/tsr",
                                                                   "ca_file": str(pki.ca_pem)})
    settings = load_register(registry).bundle.timestamp
    assert (settings.url, settings.ca_file, settings.timeout_s) == (
        "https://tsa.example.se/tsr", str(pki.ca_pem), 30)


# --- whole runs through the command line -------------------------------------------------------------------

@pytest.fixture(scope="module")
def stamped(tmp_path_factory, site, tsa, pki):
    tmp = tmp_path_factory.mktemp("stamped")
    registry = timestamp_registry(tmp, site, {"url": tsa.url})
    result = run_cli("run", "--json", registry=registry)
    assert result.returncode == 0, result.stderr
    return registry, json.loads(result.stdout)


@pytest.mark.browser
def test_run_stores_the_token_beside_the_manifest(stamped, tsa):
    _, out = stamped
    folder = Path(out["manifest"]).parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{out['bundle_id']}.pdf", "manifest.json", "manifest.json.tsr", f"{out['bundle_id']}.wacz"])
    assert out["timestamp"]["status"] == "ok" and out["timestamp"]["tsa"] == "CN=Test TSA,O=Testkommun"
    manifest = json.loads(Path(out["manifest"]).read_text())
    assert manifest["trusted_timestamp"]["tsa_url"] == tsa.url
    assert manifest["trusted_timestamp"]["token_file"] == "manifest.json.tsr"
    # The token is over the manifest, which holds the WACZ's SHA-256: the timestamp covers the web archive.
    wacz = folder / manifest["wacz"]["file"]
    assert manifest["wacz"]["sha256"] == hashlib.sha256(wacz.read_bytes()).hexdigest()


@pytest.mark.browser
def test_verify_reports_the_timestamp_with_its_time(stamped):
    registry, out = stamped
    result = run_cli("bundles", "verify", out["bundle_id"], "--json", registry=registry)
    assert result.returncode == 0, result.stdout + result.stderr
    name = next(n for n in checks(result) if n.startswith("trusted timestamp "))
    assert out["timestamp"]["gen_time"] in name and "CN=Test TSA" in name
    assert f"genTime {out['timestamp']['gen_time']}" in checks(result)[name]["detail"]
    text = run_cli("bundles", "verify", out["bundle_id"], registry=registry)
    assert f"ok    trusted timestamp {out['timestamp']['gen_time']} from CN=Test TSA" in text.stdout


@pytest.mark.browser
def test_verify_checks_the_tsa_against_a_trusted_ca(stamped, pki, other_pki):
    _, out = stamped
    folder = Path(out["manifest"]).parent
    name, ok, detail = timestamp_check(verify_bundle(folder, timestamp_ca=pki.ca_pem))
    assert ok and f"checked against {pki.ca_pem}" in detail and "no trusted CA" not in name
    name, ok, detail = timestamp_check(verify_bundle(folder, timestamp_ca=other_pki.ca_pem))
    assert not ok and "not issued under the trusted CA" in detail


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
@pytest.mark.browser
def test_openssl_verifies_the_stored_token_independently(stamped, pki):
    _, out = stamped
    folder = Path(out["manifest"]).parent
    result = subprocess.run([OPENSSL, "ts", "-verify", "-data", "manifest.json", "-in", "manifest.json.tsr",
                             "-CAfile", str(pki.ca_pem)],
                            cwd=folder, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stdout + result.stderr


@pytest.mark.browser
def test_one_changed_byte_in_the_manifest_fails_hash_and_timestamp(stamped, tmp_path):
    registry, out = stamped
    copy = tmp_path / out["bundle_id"]
    shutil.copytree(Path(out["manifest"]).parent, copy)
    manifest = copy / "manifest.json"
    data = manifest.read_bytes()
    assert data.count(b"(test)") == 1
    manifest.write_bytes(data.replace(b"(test)", b"(tesT)"))  # still valid JSON, one byte different
    result = run_cli("bundles", "verify", str(copy), "--json", registry=registry)
    assert result.returncode == 1
    failed = {name: c["detail"] for name, c in checks(result).items() if not c["ok"]}
    assert set(failed) == {"manifest SHA-256 matches catalog", "trusted timestamp"}
    assert "the token is over other bytes" in failed["trusted timestamp"]


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["other key", "other CA", "wrong imprint", "missing"])
def test_a_foreign_or_missing_token_fails(stamped, kind, tsa, pki, other_pki, tmp_path):
    _, out = stamped
    copy = tmp_path / "copy"
    shutil.copytree(Path(out["manifest"]).parent, copy)
    data = (copy / "manifest.json").read_bytes()
    token = copy / "manifest.json.tsr"
    if kind == "other key":
        tsa.mode = "other_key"
        token.write_bytes(_unchecked_token(tsa.url, data))
    elif kind == "other CA":
        with serve_tsa(other_pki) as other:
            token.write_bytes(_unchecked_token(other.url, data))
    elif kind == "wrong imprint":
        token.write_bytes(timestamp.request_token(data + b" ", tsa.url, timeout_s=10)[0])
    else:
        token.unlink()
    name, ok, detail = timestamp_check(verify_bundle(copy, timestamp_ca=pki.ca_pem))
    assert (name, ok) == ("trusted timestamp", False)
    assert {"other key": "signature was not made by the key", "other CA": "not issued under the trusted CA",
            "wrong imprint": "the token is over other bytes",
            "missing": "manifest.json.tsr is missing, but the manifest says one was stored"}[kind] in detail


def _unchecked_token(url: str, data: bytes) -> bytes:
    """What a TSA answers for `data`, without our checks (to plant a bad token in a bundle)."""
    from asn1crypto import tsp

    query = tsp.TimeStampReq({"version": "v1", "cert_req": True, "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(data).digest()}}).dump()
    return timestamp._post(url, query, 10)


@pytest.mark.browser
def test_registration_keeps_the_timestamp_valid_for_the_manifest_as_first_stored(tmp_path, site, tsa, pki):
    registry = timestamp_registry(tmp_path, site, {"url": tsa.url, "ca_file": str(pki.ca_pem)})
    run = run_cli("run", "--json", registry=registry)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["timestamp"]["tsa_certificate_checked_against"] == str(pki.ca_pem)
    registered = run_cli("register", out["bundle_id"], "--dnr", "KS 2026/123", "--by", "Registrator",
                         registry=registry)
    assert registered.returncode == 0, registered.stderr
    result = run_cli("bundles", "verify", out["bundle_id"], "--json", registry=registry)
    assert result.returncode == 0, result.stdout
    name = next(n for n in checks(result) if n.startswith("trusted timestamp "))
    assert "the 1 registration(s) added since are not covered" in checks(result)[name]["detail"]
    if OPENSSL:  # the same, independently: the manifest as first stored = the current one, no registrations
        folder = Path(out["manifest"]).parent
        manifest = manifest_io.load(folder / "manifest.json")
        first = tmp_path / "manifest-as-first-stored.json"
        first.write_bytes(manifest_io.dump({**manifest, "registrations": []}))
        check = subprocess.run([OPENSSL, "ts", "-verify", "-data", str(first), "-in",
                                str(folder / "manifest.json.tsr"), "-CAfile", str(pki.ca_pem)],
                               capture_output=True, text=True, timeout=30, check=False)
        assert "Verification: OK" in check.stdout, check.stdout + check.stderr


@pytest.mark.browser
def test_a_tsa_that_is_down_leaves_a_bundle_without_token_and_says_so(tmp_path, site):
    url = closed_port_url()
    registry = timestamp_registry(tmp_path, site, {"url": url, "timeout_s": 5})
    result = run_cli("run", "--json", registry=registry)
    assert result.returncode == 0, result.stderr  # every page was captured; the warning says what is missing
    assert "is stored WITHOUT a trusted timestamp: the TSA at" in result.stderr
    out = json.loads(result.stdout)
    assert out["timestamp"]["status"] == "missing" and "did not answer" in out["timestamp"]["error"]
    folder = Path(out["manifest"]).parent
    assert not (folder / "manifest.json.tsr").exists()
    declared = json.loads(Path(out["manifest"]).read_text())["trusted_timestamp"]
    assert declared["token_file"] is None and declared["tsa_url"] == url
    assert "did not answer" in declared["error"]
    catalog = Catalog(catalog_url_for(tmp_path / "store"))
    row = catalog.get_bundle(out["bundle_id"])
    assert row["manifest_sha256"] == manifest_io.sha256_file(Path(out["manifest"]))  # the final manifest
    verify = run_cli("bundles", "verify", out["bundle_id"], registry=registry)
    assert verify.returncode == 0, verify.stdout
    assert "ok    no trusted timestamp (the TSA failed when the bundle was made)" in verify.stdout


@pytest.mark.browser
def test_without_timestamp_settings_verify_says_not_configured(tmp_path, site):
    registry = timestamp_registry(tmp_path, site, None)
    result = run_cli("run", "--json", registry=registry)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert "timestamp" not in out and "trusted_timestamp" not in json.loads(Path(out["manifest"]).read_text())
    verify = run_cli("bundles", "verify", out["bundle_id"], "--json", registry=registry)
    assert verify.returncode == 0, verify.stdout
    assert checks(verify)["no trusted timestamp (not configured)"]["ok"]


@pytest.mark.browser
def test_the_token_travels_with_the_bundle_and_verify_uses_the_registers_ca(tmp_path, site, tsa, pki):
    """`bundles get` copies it, the E-ARK SIP carries it as metadata, and verify checks the chain."""
    registry = timestamp_registry(tmp_path, site, {"url": tsa.url, "ca_file": str(pki.ca_pem)})
    out = json.loads(run_cli("run", "--json", registry=registry).stdout)
    verified = run_cli("bundles", "verify", out["bundle_id"], "--json", registry=registry)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    [stamp] = [c for c in json.loads(verified.stdout)["checks"] if c["check"].startswith("trusted timestamp")]
    assert stamp["ok"] and f"checked against {pki.ca_pem}" in stamp["detail"]

    got = run_cli("bundles", "get", out["bundle_id"], "--out", str(tmp_path / "got"), registry=registry)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "got" / "manifest.json.tsr").read_bytes() == (
        Path(out["manifest"]).with_name("manifest.json.tsr").read_bytes())

    exported = run_cli("bundles", "export", out["bundle_id"], "--format", "eark-sip", "--out",
                       str(tmp_path / "sip"), "--json", registry=registry)
    assert exported.returncode == 0, exported.stderr
    sip = Path(json.loads(exported.stdout)["sip"])
    assert (sip / "metadata" / "other" / "manifest.json.tsr").is_file()
    mets = (sip / "METS.xml").read_text(encoding="utf-8")
    assert 'OTHERMDTYPE="RFC 3161 time-stamp token over manifest.json"' in mets
    assert "digiprov-timestamp" in mets
