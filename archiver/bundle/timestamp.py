"""Trusted timestamps (RFC 3161) over manifest.json: ask a time-stamp authority (TSA), check its answer,
check it again when a bundle is verified.

The TSA's answer (the DER TimeStampResp, byte for byte as received) is stored beside the manifest as
`manifest.json.tsr`. It proves that manifest.json — and through its SHA-256 hashes the PDF and every image —
existed at the TSA's time (genTime). Anyone can check it without this tool:

    openssl ts -verify -data manifest.json -in manifest.json.tsr -CAfile the-tsa-ca.pem

`archiver register` later adds registrations to the manifest; the token then still covers the manifest as
first stored, which is the current one with `"registrations": []`, and verification says so.

Parsing uses asn1crypto, which reads what real TSAs send (BER, e.g. certificate sets in chain order as
`openssl ts -reply -chain` writes them, which strict-DER parsers refuse); signatures and the TSA's
certificate path are checked with `cryptography`.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import verification

from archiver import TOOL_NAME, __version__
from archiver.bundle.manifest import MANIFEST_NAME, dump
from archiver.errors import ArchiverError
from archiver.models import iso, utcnow

log = logging.getLogger(__name__)

TOKEN_NAME = f"{MANIFEST_NAME}.tsr"
MAX_RESPONSE_BYTES = 1 << 20
CLOCK_SKEW = timedelta(minutes=5)  # how far the TSA's genTime may be from our clock when we ask
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256, "sha3_384": hashes.SHA3_384, "sha3_512": hashes.SHA3_512,
}


class _TimeStampResp(core.Sequence):
    """RFC 3161's TimeStampResp; asn1crypto's own requires the token, which a refusal does not carry."""

    _fields: ClassVar[list] = [("status", tsp.PKIStatusInfo),
                               ("time_stamp_token", cms.ContentInfo, {"optional": True})]


class TimestampError(ArchiverError):
    """The TSA gave no valid token, or a stored token does not check out."""


@dataclass(frozen=True)
class Timestamp:
    """What a checked token says."""

    gen_time: datetime
    tsa: str                 # the subject of the certificate that signed the token
    serial: int
    policy: str
    ca_file: str | None      # the trusted CA file the TSA certificate was checked against, if any

    def as_dict(self) -> dict:
        return {"gen_time": iso(self.gen_time), "tsa": self.tsa, "serial": self.serial, "policy": self.policy,
                "tsa_certificate_checked_against": self.ca_file}


@dataclass(frozen=True)
class _Token:
    status: str
    imprint_algorithm: str
    imprint: bytes
    nonce: int | None
    gen_time: datetime
    serial: int
    policy: str
    tst_der: bytes
    signer: cms.SignerInfo
    certificates: list[x509.Certificate]


def declaration(url: str) -> dict:
    """What the manifest says of its timestamp before there is one (a token cannot be in what it covers)."""
    return {
        "tsa_url": url,
        "token_file": TOKEN_NAME,
        "covers": f"SHA-256 of this file as first stored (with \"registrations\": []); check with: "
                  f"openssl ts -verify -data {MANIFEST_NAME} -in {TOKEN_NAME} -CAfile <the TSA's CA file>",
    }


def stamp_file(path: Path, url: str, *, timeout_s: float, ca_file: str | Path | None = None) -> Timestamp:
    """Get a checked token over `path`'s bytes from the TSA at `url` and store it as `<path>.tsr`."""
    body, stamp = request_token(path.read_bytes(), url, timeout_s=timeout_s, ca_file=ca_file)
    path.with_name(path.name + ".tsr").write_bytes(body)
    return stamp


def request_token(data: bytes, url: str, *, timeout_s: float,
                  ca_file: str | Path | None = None) -> tuple[bytes, Timestamp]:
    """Ask the TSA for a token over SHA-256(`data`); the response as received and, checked, what it says."""
    digest = hashlib.sha256(data).digest()
    nonce = secrets.randbits(64)
    query = tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,
    }).dump()
    sent = utcnow()
    body = _post(url, query, timeout_s)
    stamp = check_response(body, digest, nonce=nonce, ca_file=ca_file)
    if not sent - CLOCK_SKEW <= stamp.gen_time <= utcnow() + CLOCK_SKEW:
        raise TimestampError(f"the TSA's time {iso(stamp.gen_time)} is more than {CLOCK_SKEW} from ours "
                             f"({iso(sent)}); check both clocks")
    return body, stamp


def _post(url: str, query: bytes, timeout_s: float) -> bytes:
    request = urllib.request.Request(url, data=query, method="POST", headers={
        "Content-Type": "application/timestamp-query",
        "Accept": "application/timestamp-reply",
        "User-Agent": f"{TOOL_NAME}/{__version__}",
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"the TSA at {url} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise TimestampError(f"the TSA at {url} did not answer: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise TimestampError(f"the TSA at {url} did not answer: {exc or type(exc).__name__}") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise TimestampError(f"the TSA at {url} answered more than {MAX_RESPONSE_BYTES} bytes")
    return body


def check_response(body: bytes, digest: bytes, *, nonce: int | None = None,
                   ca_file: str | Path | None = None) -> Timestamp:
    """Check a TimeStampResp: granted, for SHA-256 `digest`, our `nonce`, signed by a time-stamping cert."""
    token = _parse(body)
    _check_imprint(token, [digest])
    if nonce is not None and token.nonce != nonce:
        raise TimestampError(f"the token's nonce {token.nonce} is not the request's {nonce}: "
                             "not an answer to us")
    return _check_signature(token, ca_file)


def check_bundle(folder: Path, manifest: dict, ca_file: str | Path | None = None) -> tuple[str, bool, str]:
    """The bundle's timestamp check for `verify` as (name, ok, detail); never raises for a bad token."""
    declared = manifest.get("trusted_timestamp")
    declared = declared if isinstance(declared, dict) else {}
    token_path = folder / TOKEN_NAME
    if not token_path.is_file():
        if not declared:
            return ("no trusted timestamp (not configured)", True,
                    f"no {TOKEN_NAME} and the manifest asks for none")
        if declared.get("error"):
            return ("no trusted timestamp (the TSA failed when the bundle was made)", True,
                    f"{declared.get('tsa_url')}: {declared['error']}")
        return "trusted timestamp", False, f"{TOKEN_NAME} is missing, but the manifest says one was stored"
    current = (folder / MANIFEST_NAME).read_bytes()
    candidates = {"manifest.json as it is": hashlib.sha256(current).digest()}
    if manifest.get("registrations"):
        first = dump({**manifest, "registrations": []})
        covers = (f"manifest.json as first stored; the {len(manifest['registrations'])} registration(s) "
                  "added since are not covered")
        candidates[covers] = hashlib.sha256(first).digest()
    try:
        try:
            body = token_path.read_bytes()
        except OSError as exc:
            raise TimestampError(f"cannot read {TOKEN_NAME}: {exc}") from None
        token = _parse(body)
        covers = _check_imprint(token, list(candidates.values()), names=list(candidates))
        stamp = _check_signature(token, ca_file)
    except TimestampError as exc:
        return "trusted timestamp", False, str(exc)
    trust = (f"TSA certificate checked against {stamp.ca_file}" if stamp.ca_file
             else "TSA certificate not checked against a trusted CA (none given): the signature only")
    name = f"trusted timestamp {iso(stamp.gen_time)} from {stamp.tsa}"
    if not stamp.ca_file:
        name += " (signature checked; no trusted CA given)"
    detail = f"genTime {iso(stamp.gen_time)}, serial {stamp.serial}, policy {stamp.policy}; covers {covers}"
    return name, True, f"{detail}; {trust}"


def _parse(body: bytes) -> _Token:
    try:
        response = _TimeStampResp.load(body)
        status_info = response["status"]
        status = status_info["status"].native
        if status not in ("granted", "granted_with_mods"):
            texts = status_info["status_string"].native if status_info["status_string"].native else []
            fail = status_info["fail_info"].native if status_info["fail_info"].native else set()
            why = "; ".join(texts) + (f" ({', '.join(sorted(fail))})" if fail else "")
            raise TimestampError(f"the TSA refused the request: {status}" + (f": {why}" if why else ""))
        content_info = response["time_stamp_token"]
        if isinstance(content_info, core.Void):
            raise TimestampError(f"the TSA says {status} but sent no time-stamp token")
        if content_info["content_type"].native != "signed_data":
            raise TimestampError("the time-stamp token is not CMS SignedData")
        signed = content_info["content"]
        encapsulated = signed["encap_content_info"]
        if encapsulated["content_type"].native != "tst_info":
            raise TimestampError("the time-stamp token does not hold a TSTInfo")
        tst_der = bytes(encapsulated["content"])
        info = tsp.TSTInfo.load(tst_der)
        imprint = info["message_imprint"]
        signers = signed["signer_infos"]
        if len(signers) != 1:
            raise TimestampError(f"the token has {len(signers)} signers; RFC 3161 allows exactly one")
        found = signed["certificates"]
        certificates = [] if isinstance(found, core.Void) else [
            x509.load_der_x509_certificate(choice.chosen.dump())
            for choice in found if choice.name == "certificate"]
        return _Token(
            status=status,
            imprint_algorithm=imprint["hash_algorithm"]["algorithm"].native,
            imprint=imprint["hashed_message"].native,
            nonce=info["nonce"].native,
            gen_time=info["gen_time"].native,
            serial=info["serial_number"].native,
            policy=info["policy"].dotted,
            tst_der=tst_der,
            signer=signers[0],
            certificates=certificates,
        )
    except TimestampError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise TimestampError(f"not a readable RFC 3161 time-stamp response: {exc}") from None


def _check_imprint(token: _Token, digests: list[bytes], names: list[str] | None = None) -> str:
    """Which of `digests` (all SHA-256) the token covers, by name; a TimestampError if none."""
    if token.imprint_algorithm != "sha256":
        raise TimestampError(f"the token's imprint uses {token.imprint_algorithm}, not the SHA-256 asked for")
    for index, digest in enumerate(digests):
        if token.imprint == digest:
            return names[index] if names else "the data"
    raise TimestampError(f"the token is over other bytes: its SHA-256 imprint is {token.imprint.hex()}, "
                         f"{MANIFEST_NAME}'s is {digests[0].hex()} "
                         f"({MANIFEST_NAME} changed after it was stamped?)")


def _hash(name: str) -> hashes.HashAlgorithm:
    if name not in _HASHES:
        raise TimestampError(f"unsupported digest algorithm {name} in the token")
    return _HASHES[name]()


def _signer_certificate(token: _Token) -> x509.Certificate:
    sid = token.signer["sid"]
    for cert in token.certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (cert.serial_number == wanted["serial_number"].native
                    and cert.issuer.public_bytes() == wanted["issuer"].dump()):
                return cert
        else:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                continue
            if ski == sid.chosen.native:
                return cert
    raise TimestampError("the token does not carry the certificate that signed it (was certReq ignored?)")


def _check_signature(token: _Token, ca_file: str | Path | None) -> Timestamp:
    """The CMS signature, its signed attributes, the signing certificate and, with `ca_file`, its path."""
    signer = token.signer
    cert = _signer_certificate(token)
    try:
        attributes = {attr["type"].native: attr["values"] for attr in signer["signed_attrs"]}
        digest_name = signer["digest_algorithm"]["algorithm"].native
        if attributes.get("content_type") is None or attributes["content_type"][0].native != "tst_info":
            raise TimestampError("the signed content type is not TSTInfo")
        if attributes.get("message_digest") is None or attributes["message_digest"][0].native != _digest(
                digest_name, token.tst_der):
            raise TimestampError("the signed message digest does not match the TSTInfo: "
                                 "the token was altered")
        _check_signing_certificate(attributes, cert)
        signed_bytes = b"\x31" + signer["signed_attrs"].dump()[1:]  # [0] IMPLICIT SET OF -> SET OF, as signed
        algorithm = signer["signature_algorithm"]
        kind = algorithm.signature_algo
        try:
            hash_name = algorithm.hash_algo
        except ValueError:
            hash_name = digest_name
        _verify(cert.public_key(), kind, hash_name, algorithm, signer["signature"].native, signed_bytes)
    except TimestampError:
        raise
    except InvalidSignature:
        raise TimestampError(f"the token's signature was not made by the key of its certificate "
                             f"({cert.subject.rfc4514_string()})") from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, UnsupportedAlgorithm) as exc:
        raise TimestampError(f"cannot check the token's signature: {exc}") from None
    _check_tsa_certificate(cert, token, ca_file)
    return Timestamp(token.gen_time, cert.subject.rfc4514_string(), token.serial, token.policy,
                     str(ca_file) if ca_file else None)


def _digest(name: str, data: bytes) -> bytes:
    digest = hashes.Hash(_hash(name))
    digest.update(data)
    return digest.finalize()


def _check_signing_certificate(attributes: dict, cert: x509.Certificate) -> None:
    """RFC 3161 requires the ESS signing-certificate attribute; it must name the certificate we check with."""
    der = cert.public_bytes(Encoding.DER)
    if attributes.get("signing_certificate_v2") is not None:
        first = attributes["signing_certificate_v2"][0]["certs"][0]
        wanted = first["cert_hash"].native
        actual = _digest(first["hash_algorithm"]["algorithm"].native, der)
    elif attributes.get("signing_certificate") is not None:
        wanted = attributes["signing_certificate"][0]["certs"][0]["cert_hash"].native
        actual = hashlib.sha1(der).digest()  # ESSCertID (v1) is SHA-1 by definition; an identifier only
    else:
        raise TimestampError("the token lacks the signing-certificate attribute RFC 3161 requires")
    if wanted != actual:
        raise TimestampError("the token's signing-certificate attribute names another certificate")


def _verify(key, kind: str, hash_name: str, algorithm, signature: bytes, data: bytes) -> None:
    if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), _hash(hash_name))
    elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
        params = algorithm["parameters"]
        mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        key.verify(signature, data, padding.PSS(padding.MGF1(_hash(mgf_hash)), params["salt_length"].native),
                   _hash(params["hash_algorithm"]["algorithm"].native))
    elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(_hash(hash_name)))
    elif kind in ("ed25519", "ed448") and isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        key.verify(signature, data)
    else:
        raise TimestampError(f"unsupported signature algorithm {kind} for a {type(key).__name__}")


def _check_tsa_certificate(cert: x509.Certificate, token: _Token, ca_file: str | Path | None) -> None:
    """A time-stamping certificate (RFC 3161 2.3) valid at genTime and, with `ca_file`, issued under it."""
    subject = cert.subject.rfc4514_string()
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.critical or x509.ExtendedKeyUsageOID.TIME_STAMPING not in usage.value:
        raise TimestampError(f"{subject} is not a time-stamping certificate (critical extended key usage "
                             "timeStamping is required)")
    if not cert.not_valid_before_utc <= token.gen_time <= cert.not_valid_after_utc:
        raise TimestampError(f"{subject} was not valid at the token's time {iso(token.gen_time)}")
    if not ca_file:
        return
    try:
        anchors = x509.load_pem_x509_certificates(Path(ca_file).read_bytes())
    except (OSError, ValueError) as exc:
        raise TimestampError(f"cannot read the trusted CA file {ca_file}: {exc}") from None

    def is_time_stamping(_policy, _cert, value) -> None:
        if value is None or x509.ExtendedKeyUsageOID.TIME_STAMPING not in value:
            raise ValueError("not a time-stamping certificate")

    ee_policy = verification.ExtensionPolicy.permit_all().require_present(
        x509.ExtendedKeyUsage, verification.Criticality.CRITICAL, is_time_stamping)
    verifier = (verification.PolicyBuilder().store(verification.Store(anchors)).time(token.gen_time)
                .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                                    ee_policy=ee_policy)
                .build_client_verifier())
    others = [c for c in token.certificates if c != cert]
    try:
        verifier.verify(cert, others)
    except verification.VerificationError as exc:
        raise TimestampError(f"{subject} is not issued under the trusted CA in {ca_file}: {exc}") from None
