"""Single posts under the records plan: which URLs `archiver post` accepts, the register's rule warnings, and
retention (`archiver retention`, `--apply`) on a catalog that mixes classes, registrations and page bundles.

The retention tests build real bundles (PDF/A, manifest, local store, catalog) from a small synthetic capture,
so they need no browser; `test_post_capture.py` and the end-to-end test below use Chromium.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import register_yaml, run_cli
from synthetic import store_bundle

from archiver.errors import BadInputError
from archiver.models import utcnow
from archiver.register import load_register
from archiver.register.rules import page_for_post, register_warnings
from archiver.registration import RegistrationRequest
from archiver.services import Services

SOCIAL_REGISTER = """\
organisation: Götene kommun (test)
capture: {allow_private_networks: true}
storage: {local: STORE}
rules: {facebook_prefix: gotene}
pages:
  - id: facebook
    platform: facebook
    url: https://www.facebook.com/gotenekommun
    owner: Kommunikationsavdelningen
  - id: facebook-idrott
    platform: facebook
    url: https://www.facebook.com/goteneidrott/
    owner: Fritid
  - id: facebook-bad-name
    platform: facebook
    url: https://www.facebook.com/kulturhuset.ljus
    owner: Kultur
  - id: x
    platform: x
    url: https://x.com/gotenekommun
  - id: instagram
    platform: instagram
    url: https://www.instagram.com/gotenekommun/
    owner: Kommunikationsavdelningen
  - id: webb
    platform: generic
    url: http://127.0.0.1:8123/kommun/
    owner: Webbredaktionen
"""


@pytest.fixture
def social_register(tmp_path) -> Path:
    path = tmp_path / "pages.yaml"
    path.write_text(SOCIAL_REGISTER.replace("STORE", json.dumps(str(tmp_path / "store"))), encoding="utf-8")
    return path


@pytest.mark.parametrize("url, page", [
    ("https://www.facebook.com/gotenekommun/posts/pfbid0abc", "facebook"),
    ("https://m.facebook.com/goteneidrott/posts/123?ref=share", "facebook-idrott"),
    ("https://twitter.com/gotenekommun/status/1861234567890", "x"),
    ("https://www.instagram.com/p/C9xYz12AbCd/", "instagram"),  # one page on the host: the post is its
    ("http://127.0.0.1:8123/kommun/nyheter/1", "webb"),
])
def test_a_post_url_belongs_to_the_registered_account_it_names(social_register, url, page):
    assert page_for_post(load_register(social_register), url).id == page


@pytest.mark.parametrize("url, words", [
    ("https://www.tiktok.com/@gotenekommun/video/1", "www.tiktok.com is not the host of any page"),
    ("https://evil.example/gotenekommun/posts/1", "evil.example is not the host of any page"),
    ("https://www.facebook.com.evil.example/gotenekommun", "is not the host of any page"),
    ("http://127.0.0.1:9999/kommun/1", "127.0.0.1:9999 is not the host"),  # same address, other port
    ("file:///etc/passwd", "is not an http(s) URL"),
    ("javascript:alert(1)", "is not an http(s) URL"),
    ("https://user:pw@www.facebook.com/gotenekommun/posts/1", "must not carry a user name"),
    ("https://www.facebook.com/permalink.php?story_fbid=1&id=2", "name it with --page"),
])
def test_any_other_url_is_refused_with_a_reason(social_register, url, words):
    with pytest.raises(BadInputError, match=re.escape(words)):
        page_for_post(load_register(social_register), url)


def test_page_option_settles_an_ambiguous_post_url_but_only_on_its_host(social_register):
    register = load_register(social_register)
    url = "https://www.facebook.com/permalink.php?story_fbid=1&id=2"
    assert page_for_post(register, url, "facebook-idrott").id == "facebook-idrott"
    with pytest.raises(BadInputError, match="'x' is not a registered page on www.facebook.com"):
        page_for_post(register, url, "x")


def test_private_addresses_are_refused_unless_the_register_allows_them(social_register):
    text = social_register.read_text().replace("allow_private_networks: true", "allow_private_networks: false")
    text = text.replace("http://127.0.0.1:8123/kommun/", "https://www.gotene.se/kommun/")
    social_register.write_text(text)
    with pytest.raises(BadInputError, match="private or loopback"):
        page_for_post(load_register(social_register), "http://127.0.0.1:8123/kommun/1")


def test_rule_warnings_name_the_line_of_a_badly_named_facebook_page_and_a_page_without_owner(social_register):
    register = load_register(social_register)
    found = {(w.page_id, w.line): w.message for w in register_warnings(register)}
    assert set(found) == {("facebook-bad-name", 14), ("x", 18)}
    assert "'kulturhuset.ljus' does not follow the convention facebook.com/gotene<verksamhet>" in \
        found[("facebook-bad-name", 14)]
    assert "no named owner" in found[("x", 18)]

    result = run_cli("pages", "check", registry=social_register)
    assert result.returncode == 0, result.stderr
    assert "2 warning(s)" in result.stdout
    assert f"{social_register}:14: pages.facebook-bad-name: the Facebook short name" in result.stderr
    assert f"{social_register}:18: pages.x: no named owner" in result.stderr
    rows = json.loads(run_cli("pages", "check", "--json", registry=social_register).stdout)
    assert [r["id"] for r in rows if r["warnings"]] == ["facebook-bad-name", "x"]


def test_a_prefix_alone_is_not_a_verksamhet(tmp_path, social_register):
    text = social_register.read_text().replace("kulturhuset.ljus", "gotene")
    social_register.write_text(text)
    messages = [w.message for w in register_warnings(load_register(social_register))]
    assert any("'gotene' does not follow" in m for m in messages)


def test_post_cli_refuses_an_unregistered_host_before_anything_runs(tmp_path):
    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "kommun", "url": "http://127.0.0.1:8123/kommun/"}],
                                      tmp_path / "store"), encoding="utf-8")
    result = run_cli("post", "http://localhost:8123/kommun/1", "--class", "evidence", "--reason", "hot",
                     "--by", "Anna", registry=registry)
    assert result.returncode == 2
    assert "localhost:8123 is not the host of any page in the register" in result.stderr
    assert not (tmp_path / "store").exists()  # nothing was created: no lock, no catalog
    bad_class = run_cli("post", "http://127.0.0.1:8123/kommun/1", "--class", "minor", "--reason", "x",
                        "--by", "Anna", registry=registry)
    assert bad_class.returncode == 2 and "'minor' is not one of 'decision', 'action', 'evidence'" in bad_class.stderr


# -- retention -----------------------------------------------------------------------------------------------

@pytest.fixture
def mixed_catalog(tmp_path):
    """Seven bundles: each class in each state the plan knows, plus a page bundle."""
    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "kommun", "url": "http://127.0.0.1:8123/kommun/"}],
                                      tmp_path / "store"), encoding="utf-8")
    services = Services(registry)
    ids = {name: store_bundle(services, cls, n) for n, (name, cls) in enumerate([
        ("decision_registered", "decision"), ("decision_waiting", "decision"), ("action_done", "action"),
        ("action_open", "action"), ("action_done_but_registered", "action"), ("evidence_released", "evidence"),
        ("evidence_kept", "evidence"), ("page_bundle", None)])}
    return registry, services, ids


def _stored(services: Services, bundle_id: str) -> bool:
    return services.store.find(bundle_id) is not None


def test_retention_lists_without_deleting_then_apply_deletes_exactly_the_cullable(mixed_catalog):
    registry, services, ids = mixed_catalog
    assert run_cli("register", ids["decision_registered"], "--dnr", "KS 2026/1", "--by", "Rita",
                   registry=registry).returncode == 0
    assert run_cli("register", ids["action_done_but_registered"], "--dnr", "KS 2026/2", "--by", "Rita",
                   registry=registry).returncode == 0
    for name in ("action_done", "action_done_but_registered"):
        marked = run_cli("retention", "done", ids[name], "--by", "Kim", registry=registry)
        assert marked.returncode == 0, marked.stderr
    assert run_cli("retention", "release", ids["evidence_released"], "--by", "Polisanmälan klar",
                   registry=registry).returncode == 0

    dry = run_cli("retention", "--json", registry=registry)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert {d["bundle_id"] for d in plan["cull"]} == {ids["action_done"], ids["evidence_released"]}
    why = {d["bundle_id"]: d["why"] for d in plan["keep"]}
    assert why[ids["decision_registered"]] == "registered as KS 2026/1"
    assert why[ids["action_done_but_registered"]] == "registered as KS 2026/2"
    assert why[ids["decision_waiting"]].startswith("decision: kept")
    assert why[ids["action_open"]].startswith("action: kept until")
    assert why[ids["evidence_kept"]].startswith("evidence: kept until released")
    assert ids["page_bundle"] not in why  # page bundles are not the plan's to cull
    assert plan["deleted"] == [] and all(_stored(services, i) for i in ids.values())

    text = run_cli("retention", registry=registry)
    assert "may be culled (2):" in text.stdout and "nothing deleted; run `archiver retention --apply`" in text.stdout

    thumbs = services.store.cache_dir(ids["action_done"])  # what the web page derived from it
    thumbs.mkdir(parents=True)
    (thumbs / "page-2.png").write_bytes(b"a thumbnail of the culled post")
    applied = run_cli("retention", "--apply", "--by", "Registrator Rita", "--json", registry=registry)
    assert applied.returncode == 0, applied.stderr
    assert sorted(json.loads(applied.stdout)["deleted"]) == sorted([ids["action_done"], ids["evidence_released"]])
    for name, bundle_id in ids.items():
        assert _stored(services, bundle_id) == (name not in ("action_done", "evidence_released")), name

    assert not thumbs.exists()  # no picture of a culled post is left behind
    listed = {row["id"] for row in json.loads(run_cli("bundles", "list", "--json", registry=registry).stdout)}
    assert listed == set(ids.values()) - {ids["action_done"], ids["evidence_released"]}
    gone = run_cli("bundles", "get", ids["action_done"], "--out", str(registry.parent / "out"), registry=registry)
    assert gone.returncode == 2 and "was deleted under the records plan" in gone.stderr and "Registrator Rita" in \
        gone.stderr
    trail = services.catalog.audit_log(ids["action_done"])
    assert [e["action"] for e in trail][:3] == ["bundle.deleted", "bundle.deleting", "post.done"]
    assert trail[0]["actor"] == "Registrator Rita" and trail[0]["detail"]["why"].startswith("action done on")

    again = json.loads(run_cli("retention", "--apply", "--json", registry=registry).stdout)
    assert again["cull"] == [] and again["deleted"] == []  # nothing left to cull, nothing else touched


def test_marks_only_fit_their_class_and_only_once(mixed_catalog):
    registry, _services, ids = mixed_catalog
    wrong = run_cli("retention", "done", ids["decision_waiting"], "--by", "Kim", registry=registry)
    assert wrong.returncode == 2 and "is a decision post; only action posts are marked done" in wrong.stderr
    page = run_cli("retention", "release", ids["page_bundle"], "--by", "Kim", registry=registry)
    assert page.returncode == 2 and "is not a single post's bundle" in page.stderr
    assert run_cli("retention", "release", ids["evidence_kept"], "--by", "Kim", registry=registry).returncode == 0
    twice = run_cli("retention", "release", ids["evidence_kept"], "--by", "Kim", registry=registry)
    assert twice.returncode == 2 and "already marked released" in twice.stderr
    missing = run_cli("retention", "done", "20990101T000000Z-abcdef", "--by", "Kim", registry=registry)
    assert missing.returncode == 2 and "no bundle" in missing.stderr


def test_a_bundle_that_became_registered_after_planning_is_not_deleted(mixed_catalog):
    from archiver import retention

    _registry, services, ids = mixed_catalog
    services.catalog.mark_post(ids["action_done"], "done", "Kim", utcnow())
    planned = retention.plan(services.catalog, services.store)
    assert [d.bundle_id for d in planned if d.cull] == [ids["action_done"]]
    services.register_bundle(ids["action_done"], RegistrationRequest("Rita", "KS 2026/9"))  # between listing and applying
    outcomes = retention.apply(services.catalog, services.store, "Kim", utcnow())
    assert outcomes == [] and _stored(services, ids["action_done"])


# -- end to end, in Chromium ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def social_url():
    from social_site import serve_social

    with serve_social() as base_url:
        yield base_url


@pytest.mark.browser
def test_post_cli_captures_the_whole_thread_as_a_verified_bundle_listed_with_its_class(tmp_path, social_url):
    from test_bundle import pdftotext
    from test_post_capture import THREAD

    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "kommun", "url": f"{social_url}/kommun.html"}], tmp_path / "store"),
                        encoding="utf-8")
    url = f"{social_url}/post-thread.html"
    result = run_cli("post", url, "--class", "evidence", "--reason", "Hot i en kommentar, polisanmäls",
                     "--by", "Anna Andersson", "--json", registry=registry)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["class"] == "evidence" and out["pages"][0]["status"] == "ok"
    assert out["post"]["complete"] is True and out["post"]["class"] == "evidence"
    bundle_id = out["bundle_id"]

    verified = run_cli("bundles", "verify", bundle_id, "--json", registry=registry)
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True, verified.stdout
    text = pdftotext(out["pdf"])
    missing = [word for _colour, _w, _h, word, _what in THREAD if word not in text]
    assert missing == []  # every expanded reply and comment is in the bundle's text layer
    cover = pdftotext("-l", "2", out["pdf"])
    assert "Inlägg i sociala medier" in cover and "Bevis om brottsligt innehåll" in cover
    assert url in cover and "Anna Andersson" in cover
    manifest = json.loads(Path(out["manifest"]).read_text())
    assert manifest["post"]["class"] == "evidence" and manifest["post"]["url"] == url

    (row,) = json.loads(run_cli("bundles", "list", "--json", registry=registry).stdout)
    assert row["kind"] == "post" and row["post"]["class"] == "evidence" and row["post"]["page_id"] == "kommun"
    assert "post, class evidence" in run_cli("bundles", "list", registry=registry).stdout
    plan = json.loads(run_cli("retention", "--json", registry=registry).stdout)
    assert [d["why"] for d in plan["keep"]] == ["evidence: kept until released (`archiver retention release`)"]


@pytest.mark.browser
def test_a_decision_post_with_a_dnr_is_registered_at_once(tmp_path, social_url):
    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "kommun", "url": f"{social_url}/kommun.html", "platform": "facebook"}],
                                      tmp_path / "store"), encoding="utf-8")
    result = run_cli("post", f"{social_url}/post-facebook.html", "--class", "decision", "--reason", "Beslut om väg",
                     "--by", "Anna", "--dnr", "KS 2026/55", "--json", registry=registry)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["post"]["author"] and out["post"]["shown_time"]
    (row,) = json.loads(run_cli("bundles", "list", "--json", registry=registry).stdout)
    assert [r["dnr"] for r in row["registrations"]] == ["KS 2026/55"] and row["post"]["dnr_hint"] == "KS 2026/55"
    assert json.loads(Path(out["manifest"]).read_text())["registrations"][0]["registered_by"] == "Anna"
