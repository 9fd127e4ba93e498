"""Several organisations in one service: two registers, two stores, one PostgreSQL catalog.

Each organisation's registrar, communicator and administrator, signed in to their own organisation's web
page, call every route of it with the other organisation's bundle, user and page: nothing of the other's is
shown, downloaded, registered, culled or disabled. The CLI addressed with one register (`--registry`)
lists, verifies and registers only that organisation's bundles."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import register_yaml
from synthetic import store_bundle

from archiver.catalog import Catalog
from archiver.cli import cli
from archiver.errors import NotFoundError
from archiver.models import RunRequest
from archiver.queue import steps
from archiver.services import Services
from archiver.web import accounts
from archiver.web.app import PUBLIC_ENDPOINTS, SESSION_COOKIE, create_app

PASSWORD = "ett-långt-lösenord-1"
ROLES = ("communicator", "registrar", "admin")


def organisation(tmp_path: Path, name: str, key: str) -> Services:
    registry = tmp_path / key / "pages.yaml"
    registry.parent.mkdir()
    text = register_yaml([{"id": f"{key}-sidan", "url": f"http://127.0.0.1:9/{key}"}], tmp_path / key / "store")
    registry.write_text(text.replace("organisation: Götene kommun (test)", f"organisation: {name}"), encoding="utf-8")
    return Services(registry)


@pytest.fixture
def two(tmp_path, postgres, monkeypatch):
    monkeypatch.setenv("ARCHIVER_CATALOG_URL", postgres.new_database())
    a = organisation(tmp_path, "Götene kommun", "gotene")
    b = organisation(tmp_path, "Lidköpings kommun", "lidkoping")
    ids = {}
    for services, key in ((a, "gotene"), (b, "lidkoping")):
        for role in ROLES:
            accounts.add_user(services.catalog, f"{key}-{role}", role, PASSWORD)
        ids[key] = [store_bundle(services, None, 1), store_bundle(services, "action", 2)]
    return a, b, ids


def files_of(store: Path) -> dict[str, str]:
    return {str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.rglob("*")) if p.is_file() and "catalog" not in p.name}


def signed_in(app, services: Services, name: str):
    client = app.test_client()
    token, session = accounts.create_session(services.catalog, name)
    client.set_cookie(SESSION_COOKIE, token)
    return client, session.csrf_token


def test_organisations_see_only_their_own_catalog_rows(two):
    a, b, ids = two
    assert (a.register.org_id, b.register.org_id) == ("gotene-kommun", "lidkopings-kommun")
    assert [r["id"] for r in a.catalog.list_bundles()] == ids["gotene"]
    assert [r["id"] for r in b.catalog.list_bundles()] == ids["lidkoping"]
    assert a.catalog.find_bundle(ids["lidkoping"][0]) is None
    assert {e["bundle_id"] for e in a.catalog.audit_log()} <= set(ids["gotene"]) | {None}
    assert [u.name for u in accounts.list_users(a.catalog)] == [f"gotene-{r}" for r in sorted(ROLES)]
    assert accounts.authenticate(a.catalog, "lidkoping-registrar", PASSWORD) is None
    assert accounts.authenticate(b.catalog, "lidkoping-registrar", PASSWORD).role == "registrar"
    everyone = Catalog(a.catalog_url)  # a tool that serves no organisation sees both
    assert {r["id"] for r in everyone.list_bundles()} == set(ids["gotene"]) | set(ids["lidkoping"])


def test_every_web_route_of_one_organisation_shows_nothing_of_the_other(two):
    a, b, ids = two
    theirs, their_post = ids["lidkoping"]
    before_files, before_rows = files_of(b.store.root), b.catalog.list_bundles()
    before_trail = b.catalog.audit_log()
    app = create_app(a)
    adapter = app.url_map.bind("localhost")
    # Their session cookie (the same host, another port shares cookies) is no session here.
    their_token, _ = accounts.create_session(b.catalog, "lidkoping-registrar")
    stranger = app.test_client()
    stranger.set_cookie(SESSION_COOKIE, their_token)
    assert stranger.get("/bundles").status_code == 302

    secrets = [theirs, their_post, "Lidköpings kommun", "lidkoping-"]
    for role in ROLES:
        client, csrf = signed_in(app, a, f"gotene-{role}")
        for bundle_id in (theirs, their_post):
            samples = {"bundle_id": bundle_id, "page_no": 1, "job_id": "A" * 16, "name": "lidkoping-admin"}
            for rule in app.url_map.iter_rules():
                if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint == "signin.logout":
                    continue
                path = adapter.build(rule.endpoint, {k: samples[k] for k in rule.arguments})
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    form = {"csrf_token": csrf, "dnr": "KS 2026/9", "by": "Gotene", "page": "lidkoping-sidan",
                            "reason": "test", "url": "http://127.0.0.1:9/lidkoping", "class": "action",
                            "name": "lidkoping-admin", "role": "admin", "password": PASSWORD,
                            "password2": PASSWORD} if method == "POST" else None
                    reply = client.open(path, method=method, data=form)
                    body = reply.get_data(as_text=True)
                    if "<bundle_id>" in rule.rule or "<name>" in rule.rule:
                        assert reply.status_code in (403, 404), (role, rule.rule, method, reply.status_code)
                    else:
                        assert reply.status_code in (200, 303, 400, 403, 404), (role, rule.rule, method)
                    # Adding a user whose name the other organisation has is refused, naming only the name
                    # typed: names are unique in the service, a person is one account in one organisation.
                    shown = [x for x in secrets if rule.endpoint != "users.users_add" or x != "lidkoping-"]
                    if rule.endpoint == "users.users_add" and reply.status_code == 400:
                        shown += ["lidkoping-registrar", "lidkoping-communicator"]
                    for secret in shown:
                        assert secret not in body, (role, method, path, secret)
                        assert secret not in reply.headers.get("Location", ""), (role, method, path)
    # Nothing of theirs was changed by any of it.
    assert files_of(b.store.root) == before_files
    assert b.catalog.list_bundles() == before_rows and b.catalog.audit_log() == before_trail
    assert accounts.get_user(b.catalog, "lidkoping-admin").disabled_at is None
    assert not b.catalog.get_bundle(theirs)["registrations"]


def test_the_cli_addressed_with_one_register_touches_only_its_organisation(two):
    a, b, ids = two
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, ["--registry", str(a.registry_path), *args])

    listed = run("bundles", "list", "--json")
    assert listed.exit_code == 0 and set(re.findall(r"\d{8}T\d{6}Z-[0-9a-f]{6}", listed.output)) == set(ids["gotene"])
    for args in (("bundles", "verify", ids["lidkoping"][0]),
                 ("register", ids["lidkoping"][0], "--dnr", "KS 1", "--by", "Gotene"),
                 ("retention", "done", ids["lidkoping"][1], "--by", "Gotene")):
        refused = run(*args)  # main() makes a NotFoundError exit 2; the runner calls the group itself
        assert isinstance(refused.exception, NotFoundError), (args, refused.output, refused.exception)
        assert "no bundle" in str(refused.exception)
    assert run("bundles", "verify", ids["gotene"][0]).exit_code == 0
    queued = steps.enqueue(b, RunRequest(), lambda run_id, key: None)  # their run, on the queue
    shown = run("runs", "show", queued["run_id"])
    assert isinstance(shown.exception, NotFoundError)
    assert steps.show(b.catalog, queued["run_id"])["status"] == "queued"
    assert not b.catalog.get_bundle(ids["lidkoping"][0])["registrations"]
