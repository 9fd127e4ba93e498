"""`archiver collect`: every post and comment of a Facebook Page through the Graph API, against a stand-in
server on loopback that answers as the documentation shows (tests/graph_api.py).

Collections run as the CLI runs them, while posts and comments are added, edited, hidden and removed
between them; the catalog must hold every item ever returned with its raw JSON and hash, and mark removed
ones with when they were last seen, never deleting anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from graph_api import PAGE_ID, Comment, GraphApi, GraphState, Post
from PIL import Image

from archiver.services import Services

NOW = datetime.now(UTC).replace(microsecond=0)


def _png(colour) -> bytes:
    data = io.BytesIO()
    Image.new("RGB", (60, 40), colour).save(data, "PNG")
    return data.getvalue()


def _state() -> GraphState:
    posts = [
        Post(f"{PAGE_ID}_1001", "Vinterväghållningen börjar i natt.", NOW - timedelta(days=3), photo="plog.png"),
        Post(f"{PAGE_ID}_1002", "Biblioteket har nya öppettider.", NOW - timedelta(days=2)),
        Post(f"{PAGE_ID}_1003", "Simhallen stänger för underhåll.", NOW - timedelta(days=1)),
    ]
    posts[0].comments = [Comment(f"1001_{n}", f"Kommentar {n}", f"Invånare {n}", NOW - timedelta(days=3, minutes=-n))
                         for n in range(1, 151)]  # two pages of 100
    posts[0].comments.append(Comment("1001_900", "Tack för infon!", "Götene kommun", NOW - timedelta(days=2),
                                     parent="1001_1"))
    posts[1].comments = [Comment("1002_1", "När öppnar ni på lördagar?", "Anna A", NOW - timedelta(days=2)),
                         Comment("1002_2", "Hotfullt innehåll", "Troll T", NOW - timedelta(days=2), is_hidden=True),
                         Comment("1002_3", "Se bilden", "Bo B", NOW - timedelta(days=2), photo="skylt.png")]
    return GraphState(posts=posts, media={"plog.png": _png((200, 30, 30)), "skylt.png": _png((30, 30, 200))})


@pytest.fixture
def graph():
    api = GraphApi(_state())
    yield api
    api.close()


def _register(tmp_path: Path, graph: GraphApi, *, token_mode: int = 0o600, extra: str = "") -> Path:
    token = tmp_path / "facebook.token"
    token.write_text(graph.state.token + "\n", encoding="utf-8")
    token.chmod(token_mode)
    registry = tmp_path / "pages.yaml"
    registry.write_text(f"""organisation: Götene kommun
storage:
  local: {json.dumps(str(tmp_path / "store"))}
pages:
  - id: facebook
    platform: facebook
    url: https://www.facebook.com/gotenekommun
    owner: Kommunikation
    api: {{id: "{PAGE_ID}", token_file: facebook.token}}
{extra}""", encoding="utf-8")
    return registry


def collect(registry: Path, graph: GraphApi, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ARCHIVER_REGISTRY": str(registry), "ARCHIVER_GRAPH_URL": graph.url}
    return subprocess.run([sys.executable, "-m", "archiver", "collect", "--json", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def _page(result: subprocess.CompletedProcess) -> dict:
    (page,) = json.loads(result.stdout)["pages"]
    return page


def _items(registry: Path) -> dict[str, dict]:
    return {row["item_id"]: row for row in Services(registry).catalog.collected()}


def test_a_first_collection_keeps_every_post_comment_and_reply_exactly_as_received(tmp_path, graph):
    registry = _register(tmp_path, graph)
    result = collect(registry, graph)
    assert result.returncode == 0, result.stderr
    page = _page(result)
    assert (page["status"], page["seen"], page["new"], page["removed"], page["files"]) == ("ok", 157, 157, [], 2)
    items = _items(registry)
    assert len(items) == 157
    kinds = {k: sum(1 for i in items.values() if i["kind"] == k) for k in ("post", "comment", "reply")}
    assert kinds == {"post": 3, "comment": 153, "reply": 1}
    reply = items["1001_900"]
    assert (reply["parent_id"], reply["post_id"]) == ("1001_1", f"{PAGE_ID}_1001")
    hidden = json.loads(items["1002_2"]["raw"])
    assert hidden["is_hidden"] is True and hidden["message"] == "Hotfullt innehåll"  # kept, though hidden
    for item in items.values():  # the raw JSON is what was sent, and its hash is over those characters
        assert hashlib.sha256(item["raw"].encode()).hexdigest() == item["sha256"]
        assert json.loads(item["raw"])["id"] == item["item_id"]
    # Attachments: each downloaded once, hashed, kept under the store's collected/ folder.
    files = {f["item_id"]: f for f in Services(registry).catalog.collected_files()}
    assert set(files) == {f"{PAGE_ID}_1001", "1002_3"}
    for item_id, name in ((f"{PAGE_ID}_1001", "plog.png"), ("1002_3", "skylt.png")):
        stored = tmp_path / "store" / files[item_id]["path"]
        assert stored.read_bytes() == graph.state.media[name]
        assert files[item_id]["sha256"] == hashlib.sha256(graph.state.media[name]).hexdigest()
    # Paging went to the end: the 150-comment thread took two pages.
    assert graph.state.requests.count(f"/v26.0/{PAGE_ID}_1001/comments") == 2


def test_later_collections_keep_edits_as_versions_and_mark_what_was_removed(tmp_path, graph):
    registry = _register(tmp_path, graph)
    assert collect(registry, graph).returncode == 0
    quiet = _page(collect(registry, graph))  # nothing changed (but every media URL was signed anew)
    assert (quiet["new"], quiet["changed"], quiet["removed"], quiet["files"]) == (0, 0, [], 0), quiet
    first_seen = _items(registry)["1002_1"]["last_seen_at"]

    posts = graph.state.posts
    posts[1].comments[0].message = "När öppnar ni på lördagar? (Redigerat: och söndagar?)"  # an edit
    removed = posts[1].comments.pop(2)  # the photo comment, removed by its author
    posts[0].comments = [c for c in posts[0].comments if c.id != "1001_7"]  # removed under the records plan
    posts.append(Post(f"{PAGE_ID}_1004", "Nytt inlägg om julmarknaden.", NOW))
    page = _page(collect(registry, graph))
    assert (page["new"], page["changed"]) == (1, 1), page
    assert sorted(page["removed"]) == sorted([removed.id, "1001_7"])

    items = _items(registry)
    edited = Services(registry).catalog.item_history("facebook", "1002_1")
    assert [json.loads(v["raw"])["message"] for v in edited] == [
        "När öppnar ni på lördagar?", "När öppnar ni på lördagar? (Redigerat: och söndagar?)"]
    gone = items[removed.id]
    assert gone["removed_at"] is not None and gone["last_seen_at"] == first_seen  # last seen, first missed
    assert json.loads(gone["raw"])["message"] == "Se bilden"  # nothing collected is deleted
    assert (tmp_path / "store" / Services(registry).catalog.collected_file("facebook:photo-skylt.png")["path"]).exists()

    listed = subprocess.run([sys.executable, "-m", "archiver", "collect", "--list", "--json"], capture_output=True,
                            text=True, env={**os.environ, "ARCHIVER_REGISTRY": str(registry)}, timeout=60, check=False)
    by_id = {i["item_id"]: i for i in json.loads(listed.stdout)}
    assert len(by_id) == 158 and by_id[removed.id]["removed_at"] and by_id["1002_1"]["versions"] == 2

    posts[1].comments.append(removed)  # shown again (un-hidden by a moderator, say)
    back = _page(collect(registry, graph))
    assert back["back"] == 1 and _items(registry)[removed.id]["removed_at"] is None


def test_a_token_that_expires_mid_collection_keeps_what_came_and_marks_nothing_removed(tmp_path, graph):
    registry = _register(tmp_path, graph)
    assert collect(registry, graph).returncode == 0
    graph.state.posts[2].comments = []  # will not be reached: must not be marked removed
    graph.state.posts[2].comments.append(Comment("1003_1", "Ny kommentar", "Cia C", NOW))
    graph.state.requests.clear()
    graph.state.expire_after = 2  # the posts' page and the first thread's first page, then 190/463
    result = collect(registry, graph)
    assert result.returncode == 1, result.stderr
    page = _page(result)
    assert (page["status"], page["failure"], page["removed"]) == ("failed", "token", [])
    assert "190/463" in page["error"] and "Session has expired" in page["error"]
    assert graph.state.token not in result.stdout + result.stderr  # the token is never printed
    checked = subprocess.run([sys.executable, "-m", "archiver", "collect", "--check"], capture_output=True, text=True,
                             env={**os.environ, "ARCHIVER_REGISTRY": str(registry), "ARCHIVER_GRAPH_URL": graph.url},
                             timeout=60, check=False)
    assert checked.returncode == 1 and "TOKEN DOES NOT WORK" in checked.stdout, checked.stdout + checked.stderr
    graph.state.expire_after = None  # a new token, say: the next collection goes on
    again = _page(collect(registry, graph))
    assert again["status"] == "ok" and "1003_1" in _items(registry)


def test_rate_limits_are_waited_out_when_short_and_end_the_collection_when_long(tmp_path, graph):
    from archiver.collect import facebook
    from archiver.collect.run import collect_page

    registry = _register(tmp_path, graph)
    services = Services(registry)
    waits: list[float] = []
    collector = facebook.Collector(PAGE_ID, graph.state.token, graph.url)
    collector.client.sleep = waits.append
    graph.state.throttle = [1]  # "estimated_time_to_regain_access": 1 minute
    outcome = collect_page(services.catalog, services.register.pages[0], collector, tmp_path / "store")
    assert outcome.ok and waits == [60.0], (outcome, waits)
    graph.state.throttle = [30]  # half an hour: longer than a collection waits
    result = collect(registry, graph)
    assert result.returncode == 1 and _page(result)["failure"] == "rate_limited"
    assert "the next collection goes on" in _page(result)["error"]
    assert _page(collect(registry, graph))["status"] == "ok"


def test_a_token_file_others_can_read_is_refused_before_any_request(tmp_path, graph):
    registry = _register(tmp_path, graph, token_mode=0o644)
    result = collect(registry, graph)
    assert result.returncode == 2 and "chmod 600" in result.stderr and "can be read by others" in result.stderr
    assert graph.state.requests == []


def test_api_entries_are_checked_with_the_register(tmp_path, graph):
    registry = _register(tmp_path, graph, extra="""  - id: webb
    platform: generic
    url: https://www.gotene.se
    owner: Kommunikation
    api: {id: "x", token_env: ARCHIVER_WEB_TOKEN}
""")
    result = subprocess.run([sys.executable, "-m", "archiver", "pages", "check"], capture_output=True, text=True,
                            env={**os.environ, "ARCHIVER_REGISTRY": str(registry)}, timeout=60, check=False)
    assert result.returncode == 2 and "pages[1]" in result.stderr and "api: is for facebook, instagram, youtube" \
        in result.stderr, result.stderr
    both = _register(tmp_path, graph).read_text().replace("token_file: facebook.token",
                                                          "token_file: facebook.token, token_env: X_TOKEN")
    (tmp_path / "pages.yaml").write_text(both)
    result = subprocess.run([sys.executable, "-m", "archiver", "pages", "check"], capture_output=True, text=True,
                            env={**os.environ, "ARCHIVER_REGISTRY": str(tmp_path / "pages.yaml")}, timeout=60,
                            check=False)
    assert result.returncode == 2 and "token_file or its token_env" in result.stderr, result.stderr


# -- YouTube ----------------------------------------------------------------------------------------------

@pytest.fixture
def youtube():
    from youtube_api import Video, YouTubeApi, YtComment

    api = YouTubeApi()
    api.state.thumbnail = _png((10, 120, 10))
    api.state.videos = [
        Video("vid00000001", "Budgeten 2027 förklarad", NOW - timedelta(days=5),
              [YtComment(f"c{n}", f"Fråga {n}", f"Tittare {n}", NOW - timedelta(days=5, minutes=-n)) for n in range(130)]
              + [YtComment("c0.r1", "Svar från kommunen", "Götene kommun", NOW - timedelta(days=4), parent="c0"),
                 YtComment("c0.r2", "Tack!", "Tittare 0", NOW - timedelta(days=4), parent="c0")]),
        Video("vid00000002", "Julmarknaden", NOW - timedelta(days=1)),
    ]
    yield api
    api.close()


def _yt_register(tmp_path: Path, youtube) -> tuple[Path, dict]:
    from youtube_api import CHANNEL

    registry = tmp_path / "pages.yaml"
    registry.write_text(f"""organisation: Götene kommun
storage:
  local: {json.dumps(str(tmp_path / "store"))}
pages:
  - id: youtube
    platform: youtube
    url: https://www.youtube.com/@gotenekommun
    owner: Kommunikation
    api: {{id: "{CHANNEL}", token_env: TEST_YOUTUBE_TOKEN}}
""", encoding="utf-8")
    env = {**os.environ, "ARCHIVER_REGISTRY": str(registry), "ARCHIVER_YOUTUBE_URL": youtube.url,
           "TEST_YOUTUBE_TOKEN": youtube.state.token}
    return registry, env


def _yt_collect(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archiver", "collect", "--json", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_a_youtube_channels_videos_comments_and_replies_are_collected_and_removals_marked(tmp_path, youtube):
    registry, env = _yt_register(tmp_path, youtube)
    first = _yt_collect(env)
    assert first.returncode == 0, first.stderr
    page = _page(first)
    assert (page["status"], page["new"], page["files"]) == ("ok", 2 + 130 + 2, 2), page
    items = _items(registry)
    assert items["c0.r1"]["kind"] == "reply" and items["c0.r1"]["parent_id"] == "c0"
    assert json.loads(items["c5"]["raw"])["snippet"]["topLevelComment"]["snippet"]["textOriginal"] == "Fråga 5"
    assert youtube.state.requests.count("/youtube/v3/commentThreads") == 1 + 2  # 130 threads: two pages of 100
    video = youtube.state.videos[0]
    video.comments = [c for c in video.comments if c.id != "c0.r2"]  # a reply removed
    video.comments[3].text = "Fråga 3 (ändrad)"
    second = _page(_yt_collect(env))
    assert (second["changed"], second["removed"]) == (1, ["c0.r2"]), second
    assert [json.loads(v["raw"])["snippet"]["topLevelComment"]["snippet"]["textOriginal"]
            for v in Services(registry).catalog.item_history("youtube", "c3")] == ["Fråga 3", "Fråga 3 (ändrad)"]


def test_youtube_quota_and_a_revoked_token_end_the_collection_and_are_reported(tmp_path, youtube):
    _registry, env = _yt_register(tmp_path, youtube)
    youtube.state.quota = 3  # channels, playlistItems, videos: then quotaExceeded on the first thread
    result = _yt_collect(env)
    assert result.returncode == 1 and _page(result)["failure"] == "rate_limited", result.stdout
    assert "quotaExceeded" in _page(result)["error"]
    youtube.state.quota = 10_000
    bare = _yt_collect({**env, "ARCHIVER_YOUTUBE_URL": youtube.url.removesuffix("/youtube/v3")})
    assert _page(bare)["status"] == "ok", bare.stdout  # a bare host: the API's own path is added
    revoked = _yt_collect({**env, "TEST_YOUTUBE_TOKEN": "ya29.revoked"})
    assert revoked.returncode == 1 and _page(revoked)["failure"] == "token" and "authError" in _page(revoked)["error"]
    assert _page(_yt_collect(env))["status"] == "ok"


# -- Instagram ----------------------------------------------------------------------------------------------

def test_an_instagram_accounts_media_comments_and_replies_are_collected_hidden_ones_too(tmp_path, graph):
    from graph_api import IG_USER, IgComment, IgMedia

    graph.state.media["torget.png"] = _png((200, 200, 20))
    graph.state.ig_media = [IgMedia("18000000000000001", "Torget i kvällsljus #götene", NOW - timedelta(days=2),
                                    "torget.png", [
                                        IgComment("17900000000000001", "Så fint!", "anna.a", NOW - timedelta(days=2)),
                                        IgComment("17900000000000002", "Olämpligt", "troll", NOW - timedelta(days=2),
                                                  hidden=True),
                                        IgComment("17900000000000003", "Tack Anna!", "gotenekommun",
                                                  NOW - timedelta(days=1), parent="17900000000000001")])]
    token = tmp_path / "ig.token"
    token.write_text(graph.state.token)
    token.chmod(0o600)
    registry = tmp_path / "pages.yaml"
    registry.write_text(f"""organisation: Götene kommun
storage:
  local: {json.dumps(str(tmp_path / "store"))}
pages:
  - id: instagram
    platform: instagram
    url: https://www.instagram.com/gotenekommun/
    owner: Kommunikation
    api: {{id: "{IG_USER}", token_file: ig.token}}
""", encoding="utf-8")
    result = collect(registry, graph)
    assert result.returncode == 0, result.stderr
    page = _page(result)
    assert (page["new"], page["files"]) == (4, 1), page
    items = _items(registry)
    assert items["17900000000000003"]["kind"] == "reply" and items["17900000000000003"]["parent_id"] == "17900000000000001"
    assert json.loads(items["17900000000000002"]["raw"])["hidden"] is True
    again = _page(collect(registry, graph))  # the media URL is signed anew: not an edit, not a new download
    assert (again["new"], again["changed"], again["files"]) == (0, 0, 0), again


# -- a collection as a bundle -------------------------------------------------------------------------------

def test_a_collection_bundle_renders_every_thread_keeps_raw_json_and_media_and_verifies(tmp_path, graph,
                                                                                         eark_validator):
    registry = _register(tmp_path, graph)
    assert collect(registry, graph).returncode == 0
    graph.state.posts[1].comments[0].message = "När öppnar ni på lördagar? (ändrat)"
    graph.state.posts[1].comments.pop(1)  # the hidden threat, removed after being kept
    assert collect(registry, graph).returncode == 0
    env = {**os.environ, "ARCHIVER_REGISTRY": str(registry)}
    since, until = (NOW - timedelta(days=10)).strftime("%Y-%m-%d"), (NOW + timedelta(days=1)).strftime("%Y-%m-%d")
    made = subprocess.run([sys.executable, "-m", "archiver", "collect", "--bundle", "--since", since, "--until", until,
                           "--by", "Registrator Rut", "--json"], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    assert made.returncode == 0, made.stderr
    out = json.loads(made.stdout)
    assert (out["posts"], out["comments"]) == (3, 154)
    folder = Path(out["location"])
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "collection"
    raw = {f["path"]: f for f in manifest["files"] if f["role"] == "raw"}
    assert len(raw) == 3 + 154 + 1  # every item, and the edited comment twice
    assert "raw-facebook-1002_1-2.json" in raw
    media = [f for f in manifest["files"] if f["role"] == "media"]
    assert sorted(m["sha256"] for m in media) == sorted(hashlib.sha256(d).hexdigest()
                                                        for d in graph.state.media.values())
    for entry in manifest["files"]:
        assert hashlib.sha256((folder / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    text = subprocess.run(["pdftotext", "-layout", str(folder / manifest["pdf"]["file"]), "-"], capture_output=True,
                          text=True, check=True).stdout
    for expected in ("Vinterväghållningen börjar i natt.", "Tack för infon!", "Hotfullt innehåll", "BORTTAGET",
                     "DOLT av sidans administratör", "(version 2 av 2)", "(ändrat)", "Troll T"):
        assert expected in text, expected
    verify = subprocess.run([sys.executable, "-m", "archiver", "bundles", "verify", out["bundle_id"]],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    registered = subprocess.run([sys.executable, "-m", "archiver", "register", out["bundle_id"], "--dnr", "KS 2026/55",
                                 "--by", "Registrator Rut"], capture_output=True, text=True, env=env, timeout=120,
                                check=False)
    assert registered.returncode == 0, registered.stderr
    exported = subprocess.run([sys.executable, "-m", "archiver", "bundles", "export", out["bundle_id"], "--format",
                               "eark-sip", "--out", str(tmp_path / "sip"), "--json"], capture_output=True, text=True,
                              env=env, timeout=120, check=False)
    assert exported.returncode == 0, exported.stderr
    from eark_check import assert_eark_valid

    sip = Path(json.loads(exported.stdout)["sip"])
    data = sorted(p.name for p in (sip / "representations" / "rep2" / "data").iterdir())
    assert data == sorted(f["path"] for f in manifest["files"])  # the raw JSON and media, as the second representation
    assert_eark_valid(eark_validator, sip)
    assert (sip / "metadata" / "descriptive" / "erms.xml").is_file()
    (folder / next(iter(raw))).write_text('{"id": "forged"}')
    tampered = subprocess.run([sys.executable, "-m", "archiver", "bundles", "verify", out["bundle_id"]],
                              capture_output=True, text=True, env=env, timeout=120, check=False)
    assert tampered.returncode == 1 and "collected files match manifest" in tampered.stdout


def test_the_web_page_lists_collected_posts_with_threads_and_shows_removed_items_to_the_registrar(tmp_path, graph):
    from test_web import PASSWORD, USERS, Web, request, session_for
    from webserve import serving

    from archiver.web import accounts
    from archiver.web.app import create_app

    registry = _register(tmp_path, graph)
    assert collect(registry, graph).returncode == 0
    graph.state.posts[1].comments.pop(1)  # the hidden threat, then removed
    assert collect(registry, graph).returncode == 0
    services = Services(registry)
    for role, name in USERS.items():
        accounts.add_user(services.catalog, name, role, PASSWORD)
    app = create_app(services)
    with serving(app) as base:
        web = Web(base, services, app)
        registrar = request(web, "GET", "/insamlat", cookies=session_for(web, "registrar")[0])
        assert registrar.status == 200 and "Vinterväghållningen börjar i natt." in registrar.body
        assert "Tack för infon!" in registrar.body and "Hotfullt innehåll" in registrar.body
        assert "Borttagen – senast sedd" in registrar.body
        communicator = request(web, "GET", "/insamlat", cookies=session_for(web, "communicator")[0])
        assert communicator.status == 200 and "Hotfullt innehåll" not in communicator.body
        assert "1 borttagna inlägg eller kommentarer visas bara för registratorn" in communicator.body
        assert request(web, "GET", "/insamlat", cookies=session_for(web, "admin")[0]).status == 403


# -- on a schedule ----------------------------------------------------------------------------------------

def test_the_scheduler_collects_on_its_own_cron_and_a_scheduled_run_bundles_the_period(tmp_path, graph, monkeypatch):
    from synthetic import store_bundle

    from archiver.catalog import Catalog
    from archiver.scheduler import (
        COLLECT_JOB_ID,
        JOB_ID,
        ScheduledRuns,
        build_scheduler,
        scheduled_collection,
    )

    registry = _register(tmp_path, graph, extra="").read_text().replace(
        "pages:", "collect: {cron: \"*/10 * * * *\", bundle_with_scheduled_runs: true}\npages:")
    (tmp_path / "pages.yaml").write_text(registry)
    registry = tmp_path / "pages.yaml"
    monkeypatch.setenv("ARCHIVER_GRAPH_URL", graph.url)
    assert scheduled_collection(str(registry)) == "done"  # what the job runs: a whole collection
    assert len(_items(registry)) == 157
    catalog = Catalog(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    scheduler = build_scheduler(ScheduledRuns(str(registry)), "0 6 1 1,7 *", catalog.engine,
                                collect_cron=Services(registry).register.collect.cron)
    jobs = {job.id: job for job in scheduler.get_jobs()}  # not started: the jobs it would run
    assert "minute='*/10'" in str(jobs[COLLECT_JOB_ID].trigger) and JOB_ID in jobs
    services = Services(registry)  # two scheduled runs: the second bundles what was published between them
    first = store_bundle(services, None, 1, NOW - timedelta(days=20))
    second = store_bundle(services, None, 2, NOW)
    made = services.collection_bundle_for_run(second)
    assert made is not None and made["posts"] == 3 and made["comments"] == 154
    assert services.catalog.get_bundle(made["bundle_id"])["kind"] == "collection"
    assert services.collection_bundle_for_run(first) is None  # nothing collected was published before it


def test_a_graph_url_with_its_version_and_a_server_with_only_posts_are_both_read(tmp_path, graph):
    """ARCHIVER_GRAPH_URL may name the version itself; a Page API without published_posts is read by /posts."""
    registry = _register(tmp_path, graph)
    graph.state.edges = ("posts",)
    env = {**os.environ, "ARCHIVER_REGISTRY": str(registry), "ARCHIVER_GRAPH_URL": f"{graph.url}/v26.0/"}
    result = subprocess.run([sys.executable, "-m", "archiver", "collect", "--json"], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert _page(result)["new"] == 157 and f"/v26.0/{PAGE_ID}/posts" in graph.state.requests


def test_a_collection_bundle_is_timestamped_like_every_bundle(tmp_path, graph):
    from tsa import make_pki, serve_tsa

    pki = make_pki(tmp_path / "pki")
    with serve_tsa(pki) as tsa:
        registry = _register(tmp_path, graph)
        text = registry.read_text().replace("pages:", f"bundle:\n  timestamp: {{url: {json.dumps(tsa.url)}, "
                                                      f"ca_file: {json.dumps(str(pki.ca_pem))}}}\npages:", 1)
        registry.write_text(text)
        assert collect(registry, graph).returncode == 0
        env = {**os.environ, "ARCHIVER_REGISTRY": str(registry)}
        since, until = (NOW - timedelta(days=10)).strftime("%Y-%m-%d"), (NOW + timedelta(days=1)).strftime("%Y-%m-%d")
        made = subprocess.run([sys.executable, "-m", "archiver", "collect", "--bundle", "--since", since, "--until",
                               until, "--json"], capture_output=True, text=True, env=env, timeout=300, check=False)
        assert made.returncode == 0, made.stderr
        out = json.loads(made.stdout)
        assert out["timestamp"]["status"] == "ok" and (Path(out["location"]) / "manifest.json.tsr").is_file()
        verify = subprocess.run([sys.executable, "-m", "archiver", "bundles", "verify", out["bundle_id"], "--json"],
                                capture_output=True, text=True, env=env, timeout=120, check=False)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert any("timestamp" in c["check"] and c["ok"] for c in json.loads(verify.stdout)["checks"])
