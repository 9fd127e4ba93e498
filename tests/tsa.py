"""A local RFC 3161 time-stamp authority for the tests, on 127.0.0.1, with a throwaway CA made at test time.

Two signers behind the same HTTP front: our own (asn1crypto + cryptography), which can also misbehave on
purpose (`mode`), and `openssl ts -reply` (`engine="openssl"`), an implementation that is not ours.
"""

from __future__ import annotations

import hashlib
import itertools
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

POLICY = "1.3.6.1.4.1.99999.1.1"  # a made-up policy OID for the test TSA
MODES = ("ok", "wrong_imprint", "wrong_nonce", "other_key", "reject", "garbage", "http_error")


class _Refusal(core.Sequence):
    """A TimeStampResp without a token (asn1crypto's TimeStampResp wrongly requires one)."""

    _fields: ClassVar[list] = [("status", tsp.PKIStatusInfo)]


@dataclass
class Pki:
    """A root CA and a TSA certificate it issued (critical EKU timeStamping), as objects and PEM files."""

    ca_cert: x509.Certificate
    ca_key: rsa.RSAPrivateKey
    tsa_cert: x509.Certificate
    tsa_key: rsa.RSAPrivateKey
    ca_pem: Path
    tsa_pem: Path
    tsa_key_pem: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Testkommun"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(folder: Path, name: str = "Test TSA") -> Pki:
    """A fresh CA and TSA certificate in `folder` (tsa-ca.pem, tsa.pem, tsa.key)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = (
        x509.CertificateBuilder().subject_name(_name(f"{name} Root CA")).issuer_name(_name(f"{name} Root CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_cert = (
        x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca_cert.subject)
        .public_key(tsa_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(ca_cert, ca_key, tsa_cert, tsa_key,
              folder / "tsa-ca.pem", folder / "tsa.pem", folder / "tsa.key")
    pki.ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.tsa_pem.write_bytes(tsa_cert.public_bytes(serialization.Encoding.PEM))
    pki.tsa_key_pem.write_bytes(tsa_key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    return pki


_OPENSSL_CONFIG = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial = {folder}/tsaserial
crypto_device = builtin
signer_cert = {folder}/tsa.pem
certs = {folder}/tsa-ca.pem
signer_key = {folder}/tsa.key
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@dataclass
class LocalTSA:
    """Answers time-stamp requests; `mode` makes the next answers wrong on purpose (see MODES)."""

    pki: Pki
    engine: str = "python"
    mode: str = "ok"
    url: str = ""
    requests: list[bytes] = field(default_factory=list)
    _serials: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _other_key: rsa.RSAPrivateKey | None = None

    def answer(self, query: bytes) -> tuple[int, bytes]:
        """(HTTP status, body) for one DER TimeStampReq."""
        self.requests.append(query)
        if self.mode == "http_error":
            return 503, b"TSA down for maintenance"
        if self.mode == "garbage":
            return 200, b"<html>not a time-stamp response</html>"
        if self.mode == "reject":
            return 200, _Refusal({"status": {"status": "rejection", "status_string": ["bad request"],
                                             "fail_info": {"bad_data_format"}}}).dump()
        if self.engine == "openssl":
            return 200, self._openssl_reply(query)
        return 200, self._sign(tsp.TimeStampReq.load(query))

    def _openssl_reply(self, query: bytes) -> bytes:
        folder = self.pki.ca_pem.parent
        config = folder / "openssl-tsa.cnf"
        if not config.exists():
            config.write_text(_OPENSSL_CONFIG.format(folder=folder, policy=POLICY))
            (folder / "tsaserial").write_text("01\n")
        (folder / "query.tsq").write_bytes(query)
        subprocess.run(["openssl", "ts", "-reply", "-config", str(config),
                        "-queryfile", str(folder / "query.tsq"),
                        "-chain", str(self.pki.ca_pem), "-out", str(folder / "reply.tsr")],
                       check=True, capture_output=True, timeout=30)
        return (folder / "reply.tsr").read_bytes()

    def _sign(self, request: tsp.TimeStampReq) -> bytes:
        cert = asn1_x509.Certificate.load(self.pki.tsa_cert.public_bytes(serialization.Encoding.DER))
        imprint = request["message_imprint"]
        if self.mode == "wrong_imprint":
            imprint = tsp.MessageImprint({"hash_algorithm": {"algorithm": "sha256"},
                                          "hashed_message": hashlib.sha256(b"some other file").digest()})
        nonce = request["nonce"].native
        if self.mode == "wrong_nonce":
            nonce = (nonce or 0) + 1
        info = {"version": "v1", "policy": POLICY, "message_imprint": imprint,
                "serial_number": next(self._serials),
                "gen_time": datetime.now(UTC), "accuracy": {"seconds": 1},
                "tsa": asn1_x509.GeneralName(name="directory_name", value=cert.subject)}
        if nonce is not None:
            info["nonce"] = nonce
        tst_der = tsp.TSTInfo(info).dump()
        attributes = [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]},
            {"type": "signing_certificate_v2",
             "values": [{"certs": [{"cert_hash": hashlib.sha256(cert.dump()).digest()}]}]},
        ]
        key = self.pki.tsa_key
        if self.mode == "other_key":  # a valid-looking token whose signature is not the certificate's key
            if self._other_key is None:
                self._other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key = self._other_key
        signature = key.sign(cms.CMSAttributes(attributes).dump(), padding.PKCS1v15(), hashes.SHA256())
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": {"issuer_and_serial_number": {"issuer": cert.issuer, "serial_number": cert.serial_number}},
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": "sha256_rsa"},
            "signature": signature,
        })
        signed = {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_der)},
            "signer_infos": [signer],
        }
        if request["cert_req"].native:
            signed["certificates"] = [cert]
        token = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed)})
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


@contextmanager
def serve_tsa(pki: Pki, engine: str = "python") -> Iterator[LocalTSA]:
    """A LocalTSA listening on http://127.0.0.1:PORT/ for as long as the block runs."""
    tsa = LocalTSA(pki, engine)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Type") != "application/timestamp-query":
                status, reply, kind = 415, b"expected application/timestamp-query", "text/plain"
            else:
                status, reply = tsa.answer(body)
                kind = "application/timestamp-reply" if status == 200 else "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tsa.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tsa
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (the port was just free)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
