"""The capture script's own parts: recipes, job planning, login-path checks, and the phone capture."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import run_cli

from archiver.capture.batch import capture_jobs
from archiver.capture.page import MOBILE_VIEWPORT
from archiver.capture.recipes import RECIPES, recipe_for
from archiver.capture.steps import _is_login_path
from archiver.catalog import Catalog, catalog_url_for
from archiver.register.schema import PLATFORMS


def test_every_platform_has_a_recipe_with_the_shared_texts():
    assert set(RECIPES) == set(PLATFORMS)
    for platform in PLATFORMS:
        recipe = recipe_for(platform)
        assert recipe.platform == platform
        assert "Avvisa alla" in recipe.consent_reject_texts and "Reject all" in recipe.consent_reject_texts
        assert "Stäng" in recipe.close_labels
        assert len(set(recipe.post_selectors)) == len(recipe.post_selectors)
    assert recipe_for("myspace") is RECIPES["generic"]


def test_platform_texts_come_before_the_shared_ones():
    facebook = recipe_for("facebook")
    assert facebook.consent_reject_selectors[0] == '[data-cookiebanner="accept_only_essential_button"]'
    assert facebook.unavailable_texts[0].startswith("Det här innehållet är inte tillgängligt just nu")
    assert facebook.session_cookies == ("c_user", "xs")


@pytest.mark.parametrize(("platform", "url", "login"), [
    ("linkedin", "https://www.linkedin.com/authwall?trk=x", True),
    ("linkedin", "https://www.linkedin.com/company/gotene-kommun", False),
    ("instagram", "https://www.instagram.com/accounts/login/?next=/gotenekommun/", True),
    ("x", "https://x.com/i/flow/login", True),
    ("x", "https://x.com/gotenekommun", False),
    ("facebook", "https://www.facebook.com/login/?next=https%3A%2F%2Fwww.facebook.com%2Fgotene", True),
    ("facebook", "https://www.facebook.com/loginhelp-gotene", False),
    ("generic", "https://example.se/signin", True),
])
def test_login_pages_are_told_by_their_path(platform, url, login):
    assert _is_login_path(url, recipe_for(platform).login_paths) is login


def test_a_page_asking_for_mobile_gets_a_phone_capture_beside_the_desktop_one():
    pages = [SimpleNamespace(id="a", mobile=False), SimpleNamespace(id="b", mobile=True), SimpleNamespace(id="c")]
    assert [(p.id, v) for p, v in capture_jobs(pages)] == [("a", "desktop"), ("b", "desktop"), ("b", "mobile"),
                                                           ("c", "desktop")]


def test_pages_that_took_longest_last_time_start_first_and_new_pages_before_them():
    pages = [SimpleNamespace(id="short"), SimpleNamespace(id="tall", mobile=True), SimpleNamespace(id="new")]
    last = {"short": 2.0, "tall": 30.0, "tall.mobile": 8.0}
    assert [(p.id, v) for p, v in capture_jobs(pages, last)] == [("new", "desktop"), ("tall", "desktop"),
                                                                 ("tall", "mobile"), ("short", "desktop")]


@pytest.mark.browser
def test_mobile_capture_is_bundled_with_a_phone_viewport_and_user_agent(site, write_register):
    registry = write_register([{"id": "feed", "url": f"{site}/feed.html", "mobile": True}])
    result = run_cli("run", "--json", registry=registry)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [(p["id"], p["variant"], p["status"]) for p in out["pages"]] == [("feed", "desktop", "ok"),
                                                                           ("feed", "mobile", "ok")]
    manifest = json.loads(Path(out["manifest"]).read_text())
    desktop, mobile = manifest["pages"]
    assert (desktop["key"], mobile["key"]) == ("feed", "feed.mobile")
    assert mobile["viewport"] == MOBILE_VIEWPORT and mobile["width_px"] == MOBILE_VIEWPORT["width"]
    assert "Mobile" in mobile["user_agent"] and "Android" in mobile["user_agent"]
    assert "Mobile" not in desktop["user_agent"] and desktop["width_px"] == 1280
    assert mobile["tiles"] and all(t["width_px"] == 412 for t in mobile["tiles"])
    assert mobile["pdf_pages"][0] > desktop["pdf_pages"][1]
    verify = run_cli("bundles", "verify", out["bundle_id"], registry=registry)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    store = Path(out["pdf"]).parents[2]
    seconds = Catalog(catalog_url_for(store)).last_capture_seconds()
    assert set(seconds) == {"feed", "feed.mobile"} and all(s > 0 for s in seconds.values())
