"""The register refuses every bad input before anything runs, naming file, line and field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from archiver.capture import CaptureSettings
from archiver.errors import NotFoundError, RegisterError
from archiver.register import PageEntry, Register, dump_pages, is_private_host, load_register

REPO = Path(__file__).resolve().parents[1]

MINIMAL = """\
organisation: Götene kommun
pages:
  - id: facebook
    platform: facebook
    url: https://www.facebook.com/gotenekommun
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pages.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(RegisterError) as info:
        load_register(write(tmp_path, text))
    return info.value.problems


def one_problem(tmp_path: Path, text: str) -> tuple[int | None, str, str]:
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1, problems
    return problems[0]


def with_page_url(url: str, allow_private: bool | None = None) -> str:
    capture = ""
    if allow_private is not None:
        capture = f"capture:\n  allow_private_networks: {str(allow_private).lower()}\n"
    return f"organisation: Götene kommun\n{capture}pages:\n  - id: p\n    platform: generic\n    url: {url}\n"


def test_minimal_register_loads_with_defaults(tmp_path):
    path = write(tmp_path, MINIMAL)
    register = load_register(path)
    assert register.organisation == "Götene kommun"
    assert register.source_path == path
    assert register.schedule.interval_months == 6
    assert (register.capture.viewport.width, register.capture.viewport.height) == (1280, 900)
    assert register.capture.timeout_s == 90
    assert register.capture.max_height_px == 100_000
    assert register.capture.allow_private_networks is False
    assert register.capture.concurrency is None  # chosen from cores and memory at run time (auto_concurrency)
    assert register.storage.local == "output" and register.storage.s3 is None
    assert register.bundle.pdfa == "2b"
    assert register.bundle.wacz is True  # the tests' register_yaml turns it off; a user's register has it
    assert register.pages == [
        PageEntry(id="facebook", platform="facebook", url="https://www.facebook.com/gotenekommun")
    ]


def test_shipped_example_register_loads():
    register = load_register(REPO / "schedules" / "pages.yaml")
    assert register.organisation == "Götene kommun"
    assert [p.id for p in register.pages] == ["facebook", "instagram", "linkedin", "youtube"]
    assert all(p.owner == "Kommunikationsavdelningen" and p.name for p in register.pages)
    assert register.capture.allow_private_networks is False


def test_dump_pages_is_plain_json(tmp_path):
    register = load_register(write(tmp_path, MINIMAL))
    dumped = dump_pages(register)
    assert dumped == [
        {
            "id": "facebook",
            "platform": "facebook",
            "url": "https://www.facebook.com/gotenekommun",
            "owner": None,
            "name": None,
        }
    ]
    json.dumps(dumped)


def test_unknown_top_level_key(tmp_path):
    line, field, message = one_problem(tmp_path, MINIMAL + "intervall_months: 3\n")
    assert (line, field) == (6, "intervall_months")
    assert "unknown key 'intervall_months'" in message


def test_unknown_nested_key_names_line_and_dotted_field(tmp_path):
    text = MINIMAL.replace("pages:", "capture:\n  timeout_s: 30\n  viewprt: {width: 800}\npages:")
    line, field, message = one_problem(tmp_path, text)
    assert (line, field) == (4, "capture.viewprt")
    assert "unknown key 'viewprt'" in message and "viewport" in message


def test_source_path_is_not_accepted_from_yaml(tmp_path):
    line, field, message = one_problem(tmp_path, MINIMAL + "source_path: /etc/passwd\n")
    assert (line, field) == (6, "source_path") and "unknown key" in message


def test_duplicate_page_ids_name_both_lines(tmp_path):
    text = MINIMAL + "  - id: facebook\n    platform: facebook\n    url: https://www.facebook.com/other\n"
    line, field, message = one_problem(tmp_path, text)
    assert (line, field) == (6, "pages[1].id")
    assert message == "duplicate page id 'facebook' (first used on line 3)"


def test_ftp_url_refused_with_line(tmp_path):
    line, field, message = one_problem(tmp_path, with_page_url("ftp://files.example.se/x"))
    assert (line, field) == (5, "pages[0].url")
    assert message == "URL must start with http:// or https://"


@pytest.mark.parametrize("url", ["www.facebook.com/gotene", "https:///path-only", "javascript:alert(1)"])
def test_url_without_scheme_or_host_refused(tmp_path, url):
    line, field, _ = one_problem(tmp_path, with_page_url(url))
    assert (line, field) == (5, "pages[0].url")


@pytest.mark.parametrize(
    "url, host",
    [
        ("http://127.0.0.1:8000/", "127.0.0.1"),
        ("http://localhost/", "localhost"),
        ("http://app.localhost:8080/", "app.localhost"),
        ("'http://[::1]/'", "::1"),
        ("http://10.1.2.3/", "10.1.2.3"),
        ("http://192.168.0.1/", "192.168.0.1"),
        ("http://169.254.169.254/latest/", "169.254.169.254"),
        ("'http://[fe80::1]/'", "fe80::1"),
    ],
)
def test_private_addresses_refused_unless_allowed(tmp_path, url, host):
    line, field, message = one_problem(tmp_path, with_page_url(url))
    assert (line, field) == (5, "pages[0].url")
    assert message == (
        f"address {host} is loopback/private; set capture.allow_private_networks: true to allow it"
    )
    with pytest.raises(RegisterError):
        load_register(write(tmp_path, with_page_url(url, allow_private=False)))
    allowed = load_register(write(tmp_path, with_page_url(url, allow_private=True)))
    assert allowed.pages[0].url == url.strip("'")


def test_public_host_accepted(tmp_path):
    register = load_register(write(tmp_path, with_page_url("https://8.8.8.8/x")))
    assert register.pages[0].url == "https://8.8.8.8/x"
    named = load_register(write(tmp_path, with_page_url("http://www.gotene.se/")))
    assert named.pages[0].url == "http://www.gotene.se/"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "LOCALHOST.",
        "x.localhost",
        "[::1]",
        "::ffff:127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.1.1",
        "fc00::1",
        "0.0.0.0",
        "100.64.0.1",
        "240.0.0.1",
        "224.0.0.1",
        "127.1",
        "2130706433",
        "0x7f.0.0.1",
        "0177.0.0.1",
    ],
)
def test_is_private_host_true(host):
    assert is_private_host(host)


@pytest.mark.parametrize(
    "host",
    ["www.facebook.com", "8.8.8.8", "2606:4700::1111", "gotene.se", "1.example", "1_0.0.0.1", "08.0.0.1"],
)
def test_is_private_host_false(host):
    assert not is_private_host(host)


def test_bad_platform_value(tmp_path):
    line, field, message = one_problem(tmp_path, MINIMAL.replace("platform: facebook", "platform: myspace"))
    assert (line, field) == (4, "pages[0].platform")
    assert "'myspace'" in message and "instagram" in message


def test_viewport_width_out_of_range(tmp_path):
    text = "capture:\n  viewport:\n    width: 5000\n" + MINIMAL
    line, field, message = one_problem(tmp_path, text)
    assert (line, field) == (3, "capture.viewport.width")
    assert message == "must be at most 3840 (got 5000)"


@pytest.mark.parametrize("page_id", ["Facebook", "-fb", "a_b", "x" * 64, "''"])
def test_bad_page_id(tmp_path, page_id):
    line, field, _ = one_problem(tmp_path, MINIMAL.replace("id: facebook", f"id: {page_id}"))
    assert (line, field) == (3, "pages[0].id")


def test_yaml_syntax_error_gives_line(tmp_path):
    problems = problems_of(tmp_path, MINIMAL + "  - id: [unclosed\n    platform: x\n")
    assert len(problems) == 1
    line, field, message = problems[0]
    assert line in (6, 7) and field == "" and "not valid YAML" in message


def test_duplicate_yaml_key_refused(tmp_path):
    text = MINIMAL + "    url: https://www.facebook.com/second\n"
    line, field, message = one_problem(tmp_path, text)
    assert (line, field) == (6, "pages[0].url")
    assert "appears twice" in message and "line 5" in message


def test_duplicate_top_level_key_refused(tmp_path):
    line, field, _ = one_problem(tmp_path, "organisation: A\n" + MINIMAL)
    assert (line, field) == (2, "organisation")


def test_missing_file(tmp_path):
    with pytest.raises(RegisterError) as info:
        load_register(tmp_path / "nope.yaml")
    assert info.value.problems == [(None, "", "file not found")]
    assert "nope.yaml" in str(info.value) and "file not found" in str(info.value)


@pytest.mark.parametrize(
    "text, words", [("", "empty"), ("- a\n- b\n", "list"), ("just text\n", "single value")]
)
def test_top_level_must_be_a_mapping(tmp_path, text, words):
    line, field, message = one_problem(tmp_path, text)
    assert line == 1 and field == "" and words in message


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "pages.yaml"
    path.write_bytes(MINIMAL.encode("utf-8").replace("Götene".encode(), "Götene".encode("latin-1")))
    with pytest.raises(RegisterError) as info:
        load_register(path)
    assert info.value.problems[0][0] == 1 and "UTF-8" in info.value.problems[0][2]


def test_missing_required_field_uses_parent_line(tmp_path):
    line, field, message = one_problem(tmp_path, MINIMAL.replace("    platform: facebook\n", ""))
    assert (line, field) == (3, "pages[0].platform")
    assert message == "required setting 'platform' is missing"


def test_missing_organisation_and_empty_pages(tmp_path):
    problems = problems_of(tmp_path, "schedule:\n  interval_months: 3\npages: []\n")
    assert (1, "organisation", "required setting 'organisation' is missing") in problems
    assert (3, "pages", "the register lists no pages") in problems


def test_several_problems_reported_together(tmp_path):
    text = """\
        organisation: Götene kommun
        schedule:
          interval_months: 0
        capture:
          viewport: {width: 100}
          concurrency: many
        bundle:
          pdfa: 3b
        pages:
          - id: fb
            platform: myspace
            url: ftp://x.se/
          - id: fb
            platform: x
            url: http://10.0.0.1/
    """
    problems = problems_of(tmp_path, text)
    assert [(line, field) for line, field, _ in problems] == [
        (3, "schedule.interval_months"),
        (5, "capture.viewport.width"),
        (6, "capture.concurrency"),
        (8, "bundle.pdfa"),
        (11, "pages[0].platform"),
        (12, "pages[0].url"),
        (13, "pages[1].id"),
        (15, "pages[1].url"),
    ]


def test_error_str_and_exit_code(tmp_path):
    path = write(tmp_path, with_page_url("ftp://x.se/"))
    with pytest.raises(RegisterError) as info:
        load_register(path)
    assert info.value.exit_code == 2
    assert f"{path}:5: pages[0].url: URL must start with http:// or https://" in str(info.value)


def test_page_and_select(tmp_path):
    text = MINIMAL + "  - id: youtube\n    platform: youtube\n    url: https://www.youtube.com/@gotene\n"
    register = load_register(write(tmp_path, text))
    assert register.page("youtube").platform == "youtube"
    assert [p.id for p in register.select([])] == ["facebook", "youtube"]
    assert [p.id for p in register.select(["youtube", "facebook", "youtube"])] == ["youtube", "facebook"]
    with pytest.raises(NotFoundError, match="known ids: facebook, youtube") as info:
        register.page("tiktok")
    assert info.value.exit_code == 2
    with pytest.raises(NotFoundError, match="'tiktok'"):
        register.select(["facebook", "tiktok"])


def test_models_check_cross_fields_when_built_in_code():
    page = {"id": "a", "platform": "generic", "url": "http://127.0.0.1/"}
    with pytest.raises(ValidationError, match="loopback/private"):
        Register(organisation="X", pages=[page])
    with pytest.raises(ValidationError, match="duplicate page id 'a'"):
        Register(organisation="X", capture={"allow_private_networks": True}, pages=[page, page])
    built = Register(organisation="X", capture={"allow_private_networks": True}, pages=[page])
    assert built.source_path is None


@pytest.mark.parametrize(("extra", "line", "field"), [
    ("    mobile: ja\n", 6, "pages[0].mobile"),
    ("    max_posts: 0\n", 6, "pages[0].max_posts"),
    ("capture:\n  scroll_budget_s: -1\n", 7, "capture.scroll_budget_s"),
    ("capture:\n  max_posts: many\n", 7, "capture.max_posts"),
    ("capture:\n  feed_settle_s: 0.1\n", 7, "capture.feed_settle_s"),
])
def test_scroll_and_mobile_settings_are_checked(tmp_path, extra, line, field):
    got_line, got_field, _ = one_problem(tmp_path, MINIMAL + extra)
    assert (got_line, got_field) == (line, field)


def test_scroll_and_mobile_settings_are_read(tmp_path):
    path = tmp_path / "pages.yaml"
    path.write_text(MINIMAL + "    mobile: true\n    max_posts: 50\ncapture:\n  scroll_budget_s: 12\n"
                    "  feed_settle_s: 5\n", encoding="utf-8")
    register = load_register(path)
    assert register.pages[0].mobile is True and register.pages[0].max_posts == 50
    assert register.capture.scroll_budget_s == 12 and register.capture.max_posts is None
    assert CaptureSettings.from_register(register.capture).feed_settle_s == 5


def test_organisation_id_defaults_to_the_name_as_a_slug_and_a_bad_one_names_its_line(tmp_path):
    assert load_register(write(tmp_path, MINIMAL)).org_id == "gotene-kommun"
    given = MINIMAL.replace("organisation: Götene kommun\n", "organisation: Götene kommun\norganisation_id: gotene\n")
    assert load_register(write(tmp_path, given)).org_id == "gotene"
    line, field, message = one_problem(tmp_path, given.replace("organisation_id: gotene", "organisation_id: Götene"))
    assert (line, field) == (2, "organisation_id") and "lowercase a-z" in message
