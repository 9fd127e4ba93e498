"""GET against a platform's API with what its documentation asks of a client: honour its rate-limit
answers (wait as long as it says, up to a bound, then stop and resume at the next collection), back off
and retry server errors and dropped connections, and say which errors mean the token is no good.

Each platform module gives `classify`, which reads an error answer (status, parsed body, headers) as a
`Problem`. Tokens go in headers or the query as the platform wants, and no URL is ever logged with its
query string: paging URLs carry the token.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from archiver.errors import ArchiverError

log = logging.getLogger(__name__)

USER_AGENT = "archiver (public-records collection of the organisation's own account)"
TIMEOUT_S = 60.0
ATTEMPTS = 4  # tries of a request a server error or a dropped connection interrupted
BACKOFF_S = 2.0  # before the second try; doubled before each further one
MAX_WAIT_S = 300.0  # the longest a rate limit is waited out within one collection


class CollectError(ArchiverError):
    """A collection of one page stopped; `failure` says why in one word (token, rate_limited, api, network)."""

    failure = "api"


class TokenError(CollectError):
    """The platform refused the token: expired, revoked, or without the permission needed."""

    failure = "token"


class RateLimited(CollectError):
    """The platform asked us to wait longer than one collection waits: the next one goes on."""

    failure = "rate_limited"


class Gone(CollectError):
    """The object asked for does not exist (any more): deleted, or hidden from this token."""


class NetworkError(CollectError):
    failure = "network"


@dataclass(frozen=True)
class Problem:
    kind: str  # "token" | "rate" | "gone" | "retry" | "fatal"
    message: str
    wait_s: float = 0.0


@dataclass
class Response:
    status: int
    text: str
    headers: dict

    def json(self) -> dict:
        return json.loads(self.text)


def redacted(url: str) -> str:
    """The URL without its query: what a log line may say."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass
class ApiClient:
    base_url: str
    classify: Callable[[int, dict | None, dict], Problem]
    headers: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # sent with every request (e.g. a key)
    max_wait_s: float = MAX_WAIT_S
    sleep: Callable[[float], None] = time.sleep
    requests: int = 0
    waited_s: float = 0.0

    def get(self, path_or_url: str, params: dict | None = None) -> Response:
        """One GET (a path under base_url, or a full paging URL as the API gave it)."""
        if path_or_url.startswith(("http://", "https://")):
            url = path_or_url  # a `next` link: it carries its own parameters
        else:
            query = urllib.parse.urlencode({**self.params, **(params or {})})
            url = f"{self.base_url.rstrip('/')}/{path_or_url.lstrip('/')}" + (f"?{query}" if query else "")
        backoff, attempt = BACKOFF_S, 0
        while True:
            attempt += 1
            response = self._once(url)
            if response is not None and 200 <= response.status < 300:
                return response
            if response is None:
                problem = Problem("retry", "no answer (connection failed or timed out)")
            else:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                problem = self.classify(response.status, body if isinstance(body, dict) else None,
                                        response.headers)
            if problem.kind == "token":
                raise TokenError(problem.message)
            if problem.kind == "gone":
                raise Gone(problem.message)
            if problem.kind == "rate":
                wait = max(problem.wait_s, backoff)
                if self.waited_s + wait > self.max_wait_s:
                    raise RateLimited(f"{problem.message}; asked to wait {wait:.0f} s, more than this collection "
                                      f"waits ({self.max_wait_s:.0f} s): the next collection goes on from here")
                log.warning("%s: rate limited (%s); waiting %.0f s", redacted(url), problem.message, wait)
                self.sleep(wait)
                self.waited_s += wait
                backoff *= 2
                continue
            if problem.kind == "retry" and attempt < ATTEMPTS:
                log.warning("%s: %s; trying again in %.0f s", redacted(url), problem.message, backoff)
                self.sleep(backoff)
                backoff *= 2
                continue
            if problem.kind == "retry":
                raise NetworkError(f"{redacted(url)}: {problem.message}, {attempt} times")
            raise CollectError(f"{redacted(url)}: {problem.message}")

    def _once(self, url: str) -> Response | None:
        self.requests += 1
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json",
                                                       **self.headers})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:
                return Response(reply.status, reply.read().decode("utf-8"), dict(reply.headers.items()))
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            return Response(exc.code, text, dict(exc.headers.items()) if exc.headers else {})
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            log.debug("%s: %s", redacted(url), exc)
            return None

    def download(self, url: str, limit_bytes: int) -> tuple[bytes, str | None]:
        """An attachment's bytes and media type (no token is sent: media URLs are signed by themselves)."""
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        for attempt in range(1, ATTEMPTS + 1):
            self.requests += 1
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:
                    data = reply.read(limit_bytes + 1)
                    if len(data) > limit_bytes:
                        raise CollectError(f"{redacted(url)}: larger than {limit_bytes} bytes; not downloaded")
                    return data, reply.headers.get_content_type()
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == ATTEMPTS:
                    raise CollectError(f"{redacted(url)}: HTTP {exc.code}") from exc
            except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
                if attempt == ATTEMPTS:
                    raise NetworkError(f"{redacted(url)}: {exc}") from exc
            self.sleep(BACKOFF_S * 2 ** (attempt - 1))
        raise NetworkError(f"{redacted(url)}: no answer")
