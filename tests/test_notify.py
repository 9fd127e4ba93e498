"""Item 5: an e-mail after each run, through a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import json
import socket
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import register_yaml, run_cli

pytestmark = pytest.mark.browser

PASSWORD = "hemligt-losen-4711"  # smtplib sends AUTH as ASCII only
RECIPIENTS = ["kommunikation@gotene.example", "registrator@gotene.example"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=login == "archiver" and password == PASSWORD)


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def notify_yaml(port: int, *, auth: bool = True) -> str:
    lines = ["notify:", "  smtp_host: 127.0.0.1", f"  smtp_port: {port}", "  security: none",
             "  sender: arkivet@gotene.example", f"  recipients: {json.dumps(RECIPIENTS)}"]
    if auth:
        lines += ["  username: archiver", "  password_env: TEST_ARCHIVER_SMTP_PASSWORD"]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, pages: list[dict], extra: str) -> Path:
    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml(pages, tmp_path / "store") + extra, encoding="utf-8")
    return registry


def test_run_mails_recipients_with_pages_failure_and_env_password(site, tmp_path, smtp_server, monkeypatch):
    port, inbox = smtp_server
    monkeypatch.setenv("TEST_ARCHIVER_SMTP_PASSWORD", PASSWORD)
    registry = write(tmp_path, [{"id": "short", "url": f"{site}/short.html"},
                                {"id": "gone", "url": f"{site}/gone"}], notify_yaml(port))
    result = run_cli("run", "--json", "--reason", "halvårsarkivering", "--by", "Kim Registrator",
                     registry=registry)
    assert result.returncode == 1, result.stderr
    out = json.loads(result.stdout)
    assert out["notified"] is True and "notify_error" not in out, out.get("notify_error")
    assert inbox.logins == [("archiver", PASSWORD)]
    assert len(inbox.messages) == 1
    rcpt, raw = inbox.messages[0]
    assert sorted(rcpt) == sorted(RECIPIENTS)
    mail = message_from_bytes(raw, policy=default_policy)
    assert mail["Subject"].startswith("Arkivering: 1 sida misslyckades")
    assert "Götene kommun (test)" in mail["Subject"]
    text = mail.get_content()
    for expected in ("Götene kommun (test)", "halvårsarkivering", "Kim Registrator", out["bundle_id"],
                     str(Path(out["manifest"]).parent), "short:", "gone (", "unavailable",
                     "Misslyckade sidor (1)", "Arkiverade sidor (1 av 2)"):
        assert expected in text, expected
    # the password is read from the environment and written nowhere
    manifest = Path(out["manifest"]).read_text(encoding="utf-8")
    for where in (result.stdout, result.stderr, manifest, text, registry.read_text(encoding="utf-8")):
        assert PASSWORD not in where


def test_smtp_down_still_stores_the_bundle_and_warns(site, tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_ARCHIVER_SMTP_PASSWORD", raising=False)
    registry = write(tmp_path, [{"id": "short", "url": f"{site}/short.html"}],
                     notify_yaml(free_port(), auth=False))  # nothing listens there
    result = run_cli("run", registry=registry)
    assert result.returncode == 0, result.stderr
    assert "notification e-mail was NOT sent" in result.stderr
    assert "notified: NO" in result.stdout
    manifest = next((tmp_path / "store").glob("*/*/manifest.json"))
    assert json.loads(manifest.read_text(encoding="utf-8"))["bundle_id"]
    listing = json.loads(run_cli("bundles", "list", "--json", registry=registry).stdout)
    assert len(listing) == 1


def test_missing_password_env_is_reported_not_fatal(site, tmp_path, smtp_server, monkeypatch):
    port, inbox = smtp_server
    monkeypatch.delenv("TEST_ARCHIVER_SMTP_PASSWORD", raising=False)
    registry = write(tmp_path, [{"id": "short", "url": f"{site}/short.html"}], notify_yaml(port))
    result = run_cli("snapshot", "short", "--reason", "ny profilbild", "--by", "Kim", "--json",
                     registry=registry)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["notified"] is False
    assert "TEST_ARCHIVER_SMTP_PASSWORD" in out["notify_error"]
    assert inbox.messages == []


@pytest.mark.parametrize("section, field", [
    ("notify:\n  smtp_host: mail.example\n  sender: nope\n  recipients: [a@b.se]\n", "notify.sender"),
    ("notify:\n  smtp_host: mail.example\n  sender: a@b.se\n  recipients: []\n", "notify.recipients"),
    (("notify:\n  smtp_host: mail.example\n  sender: a@b.se\n  recipients: [a@b.se]\n  username: u\n"
      "  password_env: 'hunter 2'\n"), "notify.password_env"),
    ("notify:\n  smtp_host: mail.example\n  sender: a@b.se\n  recipients: [a@b.se]\n  pasword_env: X\n",
     "notify.pasword_env"),
])
def test_bad_notify_section_is_refused_with_file_line(tmp_path, section, field):
    registry = write(tmp_path, [{"id": "short", "url": "https://example.com/"}], section)
    result = run_cli("pages", "check", registry=registry)
    assert result.returncode == 2
    assert f"{registry}:" in result.stderr and field in result.stderr, result.stderr


def test_a_post_mail_names_the_post_and_its_class():
    from types import SimpleNamespace

    from archiver.models import PageCapture, PostRequest
    from archiver.notify import build_message

    settings = SimpleNamespace(sender="arkiv@gotene.se", recipients=["registrator@gotene.se"])
    request = PostRequest("https://www.facebook.com/gotenekommun/posts/1", "evidence", "hot", "Anna")
    capture = PageCapture("facebook", "facebook", request.url, status="ok")
    result = SimpleNamespace(captures=[capture], failed=[], bundle_id="20261125T000000Z-abcdef",
                             location="/srv/arkiv", pdf="/srv/arkiv/x.pdf", manifest="/srv/arkiv/manifest.json")
    message = build_message(settings, "Götene kommun", request, result)
    assert message["Subject"] == "Arkivering: inlägg sparat (bevis, inför polisanmälan) – Götene kommun"
    text = message.get_content()
    assert f"Inlägg:       {request.url}" in text and "Klass:        bevis, inför polisanmälan" in text
    capture.status = "failed"
    result.failed = [capture]
    assert "kunde INTE sparas" in build_message(settings, "Götene kommun", request, result)["Subject"]


def test_a_scheduled_runs_mail_names_the_pages_that_changed_and_the_posts_that_disappeared(tmp_path, smtp_server):
    """After each scheduled run: what changed since the previous scheduled run (archiver bundles compare)."""
    from test_compare import NEW_POST, POSTS, _image, _page

    from archiver.demo.server import serve_directory

    port, inbox = smtp_server
    site = tmp_path / "site"
    site.mkdir()
    _image(site / "lekplats.png", (40, 90, 200))
    before = list(POSTS.items())
    after = [NEW_POST] + [(n, t) for n, t in before if n != 3]
    with serve_directory(site) as base:
        registry = write(tmp_path, [{"id": "kommun", "url": f"{base}/index.html"}], notify_yaml(port, auth=False))
        for posts in (before, after):
            (site / "index.html").write_text(_page(posts, "lekplats.png"), encoding="utf-8")
            result = run_cli("run", "--json", registry=registry)
            assert result.returncode == 0, result.stderr
    first, second = (message_from_bytes(raw, policy=default_policy).get_content() for _rcpt, raw in inbox.messages)
    assert "Ändringar sedan" not in first  # there was no scheduled run before it
    assert "Ändringar sedan förra schemalagda körningen" in second
    assert "- kommun:" in second and "1 inlägg borta, 1 nya" in second
    assert "/kommun/posts/3" in second and POSTS[3][:40] in second
    assert "Rapport: " in second and ".pdf" in second


def test_a_collection_whose_token_expired_is_mailed_and_a_quiet_success_is_not(tmp_path, smtp_server):
    import os
    import subprocess
    import sys

    from graph_api import PAGE_ID, GraphApi, GraphState, Post

    from archiver.models import utcnow

    port, inbox = smtp_server
    graph = GraphApi(GraphState(posts=[Post(f"{PAGE_ID}_1", "Hej", utcnow())]))
    try:
        token = tmp_path / "fb.token"
        token.write_text(graph.state.token)
        token.chmod(0o600)
        registry = tmp_path / "pages.yaml"
        registry.write_text(f"""organisation: Götene kommun
storage:
  local: {json.dumps(str(tmp_path / "store"))}
{notify_yaml(port, auth=False)}pages:
  - id: facebook
    platform: facebook
    url: https://www.facebook.com/gotenekommun
    owner: Kommunikation
    api: {{id: "{PAGE_ID}", token_file: fb.token}}
""", encoding="utf-8")
        env = {**os.environ, "ARCHIVER_REGISTRY": str(registry), "ARCHIVER_GRAPH_URL": graph.url}

        def collect():
            return subprocess.run([sys.executable, "-m", "archiver", "collect"], capture_output=True, text=True,
                                  env=env, timeout=120, check=False)

        assert collect().returncode == 0 and inbox.messages == []  # an hourly success mails no one
        graph.state.token = "EAArenewed-elsewhere"  # ours is now revoked
        assert collect().returncode == 1
        (_rcpt, raw), = inbox.messages
        mail = message_from_bytes(raw, policy=default_policy)
        assert mail["Subject"].startswith("Insamling via API: 1 sida/sidor misslyckades")
        assert "facebook (facebook): token fungerar inte" in mail.get_content()
        assert "archiver collect --check" in mail.get_content()
    finally:
        graph.close()
