"""The register of pages as validated, immutable models.

Each model refuses unknown keys so a misspelt setting is reported instead of silently ignored.
Checks that need more than one field (duplicate ids, private addresses) live in `cross_problems`
so the loader can run them on raw data too and report them beside every other problem.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from archiver.errors import NotFoundError
from archiver.register.addresses import is_private_host

PAGE_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62})$")
Platform = Literal["facebook", "instagram", "x", "youtube", "linkedin", "tiktok", "generic"]
PLATFORMS: tuple[str, ...] = get_args(Platform)
CROSS_CHECK_ERROR = "register_cross_check"


def private_url_host(url: object) -> str | None:
    """The host of an http(s) `url` if it is loopback/private, else None (also for URLs that do not parse)."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname if is_private_host(parts.hostname) else None


def private_host_message(host: str) -> str:
    return f"address {host} is loopback/private; set capture.allow_private_networks: true to allow it"


def duplicate_ids(ids: Sequence[object]) -> dict[int, int]:
    """Map the index of every repeated id to the index where that id was first used."""
    first: dict[str, int] = {}
    repeats = {}
    for index, page_id in enumerate(ids):
        if isinstance(page_id, str):
            if page_id in first:
                repeats[index] = first[page_id]
            else:
                first[page_id] = index
    return repeats


def cross_problems(
    ids: Sequence[object],
    urls: Sequence[object],
    allow_private: bool,
    first_used: Callable[[int], str] = lambda index: f"by pages[{index}]",
) -> list[tuple[int, str, str]]:
    """Problems spanning several pages, as (page index, field name, message); tolerant of bad input.

    `first_used` words where a repeated id was first used, so the loader can name a line instead.
    """
    problems = [
        (i, "id", f"duplicate page id '{ids[i]}' (first used {first_used(first)})")
        for i, first in duplicate_ids(ids).items()
    ]
    if not allow_private:
        for i, url in enumerate(urls):
            if host := private_url_host(url):
                problems.append((i, "url", private_host_message(host)))
    return sorted(problems)


def _id_checker(code: str, what: str) -> Callable[[str], str]:
    """A validator for an id of 1-63 lowercase a-z, digits and hyphens (`what` names it in the message)."""
    def check(value: str) -> str:
        if not PAGE_ID_PATTERN.fullmatch(value):
            raise PydanticCustomError(
                code,
                f"{what} must be 1-63 characters of lowercase a-z, digits and hyphens, "
                "starting with a letter or digit (got '{value}')",
                {"value": value},
            )
        return value
    return check


_check_page_id = _id_checker("page_id", "page id")


def _check_url(value: str) -> str:
    value = value.strip()
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError as exc:
        raise PydanticCustomError("url", "URL is malformed: {reason}", {"reason": str(exc)}) from None
    if parts.scheme not in ("http", "https") or not value.lower().startswith(parts.scheme + "://"):
        raise PydanticCustomError("url", "URL must start with http:// or https://")
    if not parts.hostname:
        raise PydanticCustomError("url", "URL must include a host name, e.g. https://www.facebook.com/...")
    if any(ch.isspace() for ch in value):
        raise PydanticCustomError("url", "URL must not contain spaces")
    return value


def _check_has_pages(pages: list) -> list:
    if not pages:
        raise PydanticCustomError("no_pages", "the register lists no pages")
    return pages


def _check_not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value.strip()


PageId = Annotated[str, AfterValidator(_check_page_id)]
Url = Annotated[str, AfterValidator(_check_url)]
Text = Annotated[str, AfterValidator(_check_not_blank)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Viewport(_Model):
    width: int = Field(1280, ge=320, le=3840, strict=True)
    height: int = Field(900, ge=320, le=4320, strict=True)


class RetrySettings(_Model):
    """Retrying a page whose failure may pass within seconds (timeout, network error, HTTP 5xx/429/408)."""

    attempts: int = Field(2, ge=1, le=10, strict=True)  # tries per page in one run; 1 = no retry
    backoff_s: float = Field(10.0, ge=0, le=3600)  # wait before the 2nd try; doubled before each further one


class CaptureSettings(_Model):
    viewport: Viewport = Viewport()
    timeout_s: float = Field(90.0, gt=0, le=3600)
    max_height_px: int = Field(100_000, ge=1000, le=1_000_000, strict=True)
    allow_private_networks: bool = Field(False, strict=True)
    concurrency: int | None = Field(None, ge=1, le=16, strict=True)  # None: chosen from cores and memory
    max_posts: int | None = Field(None, ge=1, le=100_000, strict=True)
    scroll_budget_s: float = Field(30.0, ge=0, le=3600)
    # The longest wait at a feed's bottom for more, while the page has something pending.
    feed_settle_s: float = Field(3.5, ge=0.5, le=60)
    retries: RetrySettings = RetrySettings()


def _check_cron(value: str) -> str:
    """Five crontab fields (minute hour day month weekday), as APScheduler's CronTrigger reads them."""
    from apscheduler.triggers.cron import CronTrigger

    value = " ".join(value.split())
    if len(value.split(" ")) != 5:
        raise PydanticCustomError("cron", "cron expression must have 5 fields (minute hour day month weekday)")
    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise PydanticCustomError("cron", "bad cron expression: {reason}", {"reason": str(exc)}) from None
    return value


class ScheduleSettings(_Model):
    interval_months: int = Field(6, ge=1, le=120, strict=True)
    cron: Annotated[str, AfterValidator(_check_cron)] = "0 6 1 1,7 *"   # for `archiver scheduler`


class S3Settings(_Model):
    bucket: Text
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    object_lock_days: int | None = Field(None, ge=1, strict=True)
    # MiB: a larger file goes up in parts of this size, each held in memory while it is sent; 5 MiB is
    # S3's smallest part.
    multipart_threshold_mb: int = Field(16, ge=5, le=512, strict=True)


class StorageSettings(_Model):
    local: Text = "output"
    s3: S3Settings | None = None


def _check_ca_file(value: str) -> str:
    """A readable PEM file of at least one certificate; a relative path is from the working directory."""
    from cryptography import x509

    value = value.strip()
    try:
        data = Path(value).expanduser().read_bytes()
    except OSError as exc:
        raise PydanticCustomError("ca_file", "cannot read '{path}': {reason}",
                                  {"path": value, "reason": exc.strerror or str(exc)}) from None
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError:
        raise PydanticCustomError("ca_file", "'{path}' holds no PEM certificate "
                                  "(-----BEGIN CERTIFICATE-----)", {"path": value}) from None
    return value


class TimestampSettings(_Model):
    """An RFC 3161 time-stamp authority that stamps every manifest (archiver/bundle/timestamp.py)."""

    url: Url
    ca_file: Annotated[str, AfterValidator(_check_ca_file)] | None = None
    timeout_s: float = Field(30.0, gt=0, le=300)


class BundleSettings(_Model):
    pdfa: Literal["1b", "2b"] = "2b"
    timestamp: TimestampSettings | None = None
    wacz: bool = True  # a replayable web archive of the visit beside the PDF/A (archiver/bundle/wacz.py)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAIL_ADDRESS = re.compile(r"^[^@\s<>,]+@[^@\s<>,]+$")


def _check_mail_address(value: str) -> str:
    value = value.strip()
    if not _MAIL_ADDRESS.fullmatch(value):
        raise PydanticCustomError("mail_address", "'{value}' is not an e-mail address (name@example.se)",
                                  {"value": value})
    return value


def _check_env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise PydanticCustomError("env_name", "must be the NAME of an environment variable holding the "
                                  "password (e.g. ARCHIVER_SMTP_PASSWORD), never the password itself")
    return value


MailAddress = Annotated[str, AfterValidator(_check_mail_address)]


class NotifySettings(_Model):
    """E-mail after every run (archiver/notify.py); the password is read from the env var `password_env`."""

    smtp_host: Text
    smtp_port: int = Field(587, ge=1, le=65535, strict=True)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: Annotated[str, AfterValidator(_check_env_name)] | None = None
    sender: MailAddress
    recipients: Annotated[list[MailAddress], Field(min_length=1)]
    timeout_s: float = Field(30.0, gt=0, le=300)

    @model_validator(mode="after")
    def _login_pair(self) -> NotifySettings:
        if bool(self.username) != bool(self.password_env):
            raise PydanticCustomError("login_pair", "username and password_env go together: give both or neither")
        return self


class RulesSettings(_Model):
    """The organisation's own rules for its register, checked as warnings by `pages check`."""

    # Facebook pages are named facebook.com/<prefix><verksamhet> (Götene: "gotene"); None: not checked.
    facebook_prefix: str | None = Field(None, pattern=r"^[A-Za-z0-9.]+$")
    require_owner: bool = Field(True, strict=True)  # every page names who answers for it


def _check_case_title(value: str) -> str:
    """A case title may name the year as {year} and nothing else in braces (it is filled in per year)."""
    if any(name != "year" for name in re.findall(r"\{([^{}]*)\}", value)) or value.replace("{year}", "").count("{") \
            or value.replace("{year}", "").count("}"):
        raise PydanticCustomError("case_title", "the only placeholder a case title may hold is {{year}} (got '{value}')",
                                  {"value": value})
    return value


class RegistrationSettings(_Model):
    """How the registrar files bundles (archiver/registration.py): the case defaults of the organisation.

    `collective_case: yearly`: one case per year for all captures; the year's first registration opens it
    with its diarienummer and the next are further documents of it (`register ID --by NAME`, no --dnr)."""

    collective_case: Literal["yearly", "none"] = "none"
    case_title: Annotated[Text, AfterValidator(_check_case_title)] | None = None  # "... {year}"
    classification: Text | None = None  # a code in the organisation's klassificeringsstruktur, e.g. "1.4.2"


API_PLATFORMS = ("facebook", "instagram", "youtube")  # the platforms with an official API for one's own account


def _check_token_env(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise PydanticCustomError("env_name", "must be the NAME of an environment variable holding the token "
                                  "(e.g. ARCHIVER_FACEBOOK_TOKEN), never the token itself")
    return value


class ApiSettings(_Model):
    """The account's id for the platform's API (archiver/collect) and where its token is: a file only its
    owner may read, or an environment variable; never the register itself."""

    id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
    token_file: Text | None = None
    token_env: Annotated[str, AfterValidator(_check_token_env)] | None = None
    watch_days: int = Field(90, ge=1, le=3650, strict=True)  # posts this new are read again every collection

    @model_validator(mode="after")
    def _one_token(self) -> ApiSettings:
        if bool(self.token_file) == bool(self.token_env):
            raise PydanticCustomError("api_token", "give the token's token_file or its token_env (one of them)")
        return self


class PageEntry(_Model):
    id: PageId
    platform: Platform
    url: Url
    owner: str | None = None
    name: str | None = None
    mobile: bool = Field(False, strict=True)
    max_posts: int | None = Field(None, ge=1, le=100_000, strict=True)
    api: ApiSettings | None = None  # collect posts and comments through the platform's API

    @model_validator(mode="after")
    def _api_platform(self) -> PageEntry:
        if self.api is not None and self.platform not in API_PLATFORMS:
            raise PydanticCustomError("api_platform", "api: is for {platforms} pages; {platform} has no API "
                                      "this tool collects from (the README says what its API allows)",
                                      {"platforms": ", ".join(API_PLATFORMS), "platform": self.platform})
        return self


_check_organisation_id = _id_checker("organisation_id", "organisation_id")


def slug(text: str) -> str:
    """Lowercase a-z, digits and hyphens: 'Götene kommun' → 'gotene-kommun'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:63].rstrip("-") or "organisation"


class CollectSettings(_Model):
    """`archiver collect` (archiver/collect): when `archiver scheduler` collects the pages with `api:`, and
    whether a scheduled run also makes a bundle of what was collected since the previous one."""

    cron: Annotated[str, AfterValidator(_check_cron)] = "15 * * * *"  # hourly, at a quarter past
    bundle_with_scheduled_runs: bool = Field(False, strict=True)


class Register(_Model):
    organisation: Text
    # Which organisation the catalog's rows are, when several share one catalog database (a regional
    # e-archive service): default the organisation's name as a slug. Changing it later orphans the rows.
    organisation_id: Annotated[str, AfterValidator(_check_organisation_id)] | None = None
    schedule: ScheduleSettings = ScheduleSettings()
    capture: CaptureSettings = CaptureSettings()
    storage: StorageSettings = StorageSettings()
    bundle: BundleSettings = BundleSettings()
    notify: NotifySettings | None = None
    rules: RulesSettings = RulesSettings()
    registration: RegistrationSettings = RegistrationSettings()
    collect: CollectSettings = CollectSettings()
    pages: Annotated[list[PageEntry], AfterValidator(_check_has_pages)]
    _source_path: Path | None = PrivateAttr(None)
    _page_lines: dict[str, int] = PrivateAttr(default_factory=dict)  # page id → its line in the file

    @model_validator(mode="after")
    def _cross_checks(self) -> Register:
        problems = cross_problems(
            [p.id for p in self.pages], [p.url for p in self.pages], self.capture.allow_private_networks
        )
        if problems:
            summary = "; ".join(f"pages[{i}].{field}: {message}" for i, field, message in problems)
            raise PydanticCustomError(CROSS_CHECK_ERROR, "{summary}", {"summary": summary})
        return self

    @property
    def org_id(self) -> str:
        """The organisation's key in a shared catalog (`organisation_id`, else a slug of its name)."""
        return self.organisation_id or slug(self.organisation)

    @property
    def source_path(self) -> Path | None:
        """The file this register was loaded from; None when built in code."""
        return self._source_path

    def page_line(self, page_id: str) -> int | None:
        return self._page_lines.get(page_id)

    def page(self, page_id: str) -> PageEntry:
        for entry in self.pages:
            if entry.id == page_id:
                return entry
        raise NotFoundError(f"no page with id '{page_id}' in the register; known ids: {self._known_ids()}")

    def select(self, ids: Iterable[str]) -> list[PageEntry]:
        """The pages named by `ids` in the order given (duplicates dropped); no ids means every page."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return list(self.pages)
        known = {entry.id: entry for entry in self.pages}
        unknown = [page_id for page_id in ids if page_id not in known]
        if unknown:
            names = ", ".join(f"'{page_id}'" for page_id in unknown)
            what = "page with id" if len(unknown) == 1 else "pages with ids"
            raise NotFoundError(f"no {what} {names} in the register; known ids: {self._known_ids()}")
        return [known[page_id] for page_id in ids]

    def _known_ids(self) -> str:
        return ", ".join(entry.id for entry in self.pages) or "(none)"


def dump_pages(register: Register) -> list[dict]:
    """The pages as plain dicts, the shape `pages list --json` prints."""
    return [page.model_dump(include={"id", "platform", "url", "owner", "name"}) for page in register.pages]
