"""A fault-injecting reverse proxy in front of an S3 server on loopback, for the S3 fault tests.

Requests that match a rule (method, a pattern on path and query, how many times) are answered with the
error AWS itself sends (500 InternalError, 503 SlowDown: status, XML body, request id); the rest are
forwarded byte for byte, the Host header unchanged so the client's SigV4 signature still holds, and the
server's answer is sent back as it came (less hop-by-hop headers, and any headers a test strips to play
a server that ignores something). Every request is recorded with the status it got.
"""

from __future__ import annotations

import http.client
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "expect"}
MESSAGES = {"InternalError": "We encountered an internal error. Please try again.",
            "SlowDown": "Please reduce your request rate.",
            "ServiceUnavailable": "Service is unable to handle request."}


@dataclass
class Rule:
    status: int
    code: str
    method: str | None = None
    match: re.Pattern | None = None
    times: int | None = None  # None: every matching request

    def applies(self, method: str, path: str) -> bool:
        return (self.times is None or self.times > 0) and (self.method in (None, method)) and \
            (self.match is None or bool(self.match.search(path)))


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    status: int
    injected: bool


@dataclass
class S3FaultProxy:
    upstream: str  # http://127.0.0.1:PORT of the real server
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    strip: re.Pattern | None = None  # response headers to drop, e.g. re.compile("^x-amz-object-lock-")
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, status: int, code: str, *, method: str | None = None, match: str | None = None,
             times: int | None = None) -> Rule:
        """Answer matching requests with AWS's error `code` and `status`: the next `times`, or every one."""
        rule = Rule(status, code, method, re.compile(match) if match else None, times)
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.strip = None

    def injected(self, status: int | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.injected and status in (None, s.status)]

    def _rule_for(self, method: str, path: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.applies(method, path):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def _record(self, method: str, path: str, status: int, injected: bool) -> None:
        with self.lock:
            self.seen.append(Seen(method, path, status, injected))

    def __enter__(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="s3faults", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def error_body(code: str, request_id: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{MESSAGES.get(code, code)}</Message><RequestId>{request_id}</RequestId>"
            f"<HostId>s3faults</HostId></Error>").encode()


def _handler_for(proxy: S3FaultProxy) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects; answers Expect: 100-continue

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _handle(self) -> None:
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                raise ValueError("s3faults forwards bodies with a Content-Length only")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            rule = proxy._rule_for(self.command, self.path)
            if rule is not None:
                self._inject(rule)
                return
            upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        upstream.putheader(name, value)
                upstream.endheaders(body or None)
                answer = upstream.getresponse()
                data = answer.read()
                proxy._record(self.command, self.path, answer.status, False)  # before the client can see it
                self.send_response_only(answer.status, answer.reason)
                sent_length = False
                for name, value in answer.getheaders():
                    lower = name.lower()
                    if lower in HOP_BY_HOP or (proxy.strip is not None and proxy.strip.search(lower)):
                        continue
                    sent_length |= lower == "content-length"
                    self.send_header(name, value)
                if not sent_length:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            finally:
                upstream.close()

        def _inject(self, rule: Rule) -> None:
            request_id = f"FAULT{id(self):x}"
            data = error_body(rule.code, request_id)
            proxy._record(self.command, self.path, rule.status, True)  # before the client can see it
            self.send_response_only(rule.status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("x-amz-request-id", request_id)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    return Handler
