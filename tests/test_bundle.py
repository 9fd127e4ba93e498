"""The bundle: PDF/A valid by two validators, tiles pixel-exact, manifest hashes, tampering detected."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pikepdf.pdfa
import pytest
from conftest import register_yaml
from PIL import Image
from test_capture import expected_image

from archiver import pipeline
from archiver.bundle import pdf as pdf_module
from archiver.bundle import pdf as pdf_step
from archiver.bundle.pdfa_rules import explain
from archiver.bundle.verify import verify_bundle
from archiver.capture.tiles import stack
from archiver.catalog import Catalog, catalog_url_for
from archiver.errors import StoreError
from archiver.models import RunRequest
from archiver.register import load_register
from archiver.store import LocalStore

pytestmark = pytest.mark.browser


def make_bundle(tmp: Path, site: str, browser_choice, pdfa: str):
    pages = [
        {"id": "tall", "url": f"{site}/tall-3000"},
        {"id": "feed", "platform": "facebook", "url": f"{site}/feed.html"},
        {"id": "gone", "url": f"{site}/gone"},
    ]
    registry = tmp / "pages.yaml"
    registry.write_text(register_yaml(pages, tmp / "store", pdfa=pdfa), encoding="utf-8")
    register = load_register(registry)
    store = LocalStore(tmp / "store")
    catalog = Catalog(catalog_url_for(store.root))
    result = pipeline.run(register, RunRequest(reason="pre-change: ny profilbild", requested_by="Anna Test"),
                          store=store, catalog=catalog, browser=browser_choice)
    return result, store, catalog


@pytest.fixture(scope="module")
def bundle_1b(tmp_path_factory, site, browser_choice):
    return make_bundle(tmp_path_factory.mktemp("b1"), site, browser_choice, "1b")


@pytest.fixture(scope="module")
def bundle_2b(tmp_path_factory, site, browser_choice):
    return make_bundle(tmp_path_factory.mktemp("b2"), site, browser_choice, "2b")


def test_pdfa_1b_passes_pdfbox_preflight(bundle_1b, preflight):
    result, _, _ = bundle_1b
    outcome = preflight(Path(result.pdf))
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "is a valid PDF/A-1b file" in outcome.stdout


def test_preflight_rejects_a_non_pdfa_file(tmp_path, preflight):
    """The validator is live: a plain PDF without PDF/A metadata fails."""
    plain = tmp_path / "plain.pdf"
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(plain)
    assert preflight(plain).returncode != 0


@pytest.mark.parametrize("flavour", ["1b", "2b"])
def test_pdfa_structure(flavour, bundle_1b, bundle_2b):
    result, _, _ = bundle_1b if flavour == "1b" else bundle_2b
    with pikepdf.open(result.pdf) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == flavour[0] and meta["pdfaid:conformance"] == "B"
        assert "Götene kommun (test)" in meta["dc:creator"]
        assert result.bundle_id in str(meta["dc:title"])
        assert str(pdf.docinfo["/Title"]) == str(meta["dc:title"])
        intents = pdf.Root.OutputIntents
        assert len(intents) == 1 and intents[0].S == "/GTS_PDFA1"
        icc = intents[0].DestOutputProfile.read_bytes()
        assert icc[8] == 2, "PDF/A-1 needs an ICC version 2 profile"
        assert icc[16:20] == b"RGB "
        assert len(pdf.trailer.ID) == 2
        for page in pdf.pages:
            box = [float(v) for v in page.MediaBox]
            assert all(3 <= box[i + 2] - box[i] <= 14_400 for i in (0, 1))
        with pdf.open_outline() as outline:
            titles = [item.title for item in outline.root]
        assert titles[0].startswith("Försättsblad") and len(titles) == 3  # cover + two captured pages
        assert any("feed" in t for t in titles) and not any("gone" in t for t in titles)
    assert pikepdf.pdfa.validate_written(result.pdf, flavour).passed


def tiles_from_pdf(pdf_path: str, manifest_page: dict) -> list[Image.Image]:
    with pikepdf.open(pdf_path) as pdf:
        return [pikepdf.PdfImage(pdf.pages[t["pdf_page"] - 1].Resources.XObject[pdf_step.TILE_NAME])
                .as_pil_image().convert("RGB") for t in manifest_page["tiles"]]


def test_tiles_in_pdf_restore_the_page_exactly(bundle_2b):
    result, _, _ = bundle_2b
    manifest = json.loads(Path(result.manifest).read_text())
    tall = next(p for p in manifest["pages"] if p["id"] == "tall")
    tiles = tiles_from_pdf(result.pdf, tall)
    assert len(tiles) == 2  # 3,000 px at 1,810 px per A4-proportioned tile
    assert stack(tiles).tobytes() == expected_image(1280, 3000).tobytes()
    with pikepdf.open(result.pdf) as pdf:
        for tile in tall["tiles"]:
            xobjects = pdf.pages[tile["pdf_page"] - 1].Resources.XObject
            assert list(xobjects.keys()) == [str(pdf_step.TILE_NAME)]
            image = xobjects[pdf_step.TILE_NAME]
            assert image.Filter == "/FlateDecode" and image.BitsPerComponent == 8 and "/SMask" not in image


def test_manifest_records_hashes_and_metadata(bundle_2b):
    result, _, catalog = bundle_2b
    manifest = json.loads(Path(result.manifest).read_text())
    assert manifest["pdf"]["sha256"] == hashlib.sha256(Path(result.pdf).read_bytes()).hexdigest()
    assert manifest["reason"] == "pre-change: ny profilbild" and manifest["requested_by"] == "Anna Test"
    assert manifest["organisation"] == "Götene kommun (test)"
    assert manifest["failures"] == [{"id": "gone", "variant": "desktop", "failure": "unavailable",
                                    "error": "HTTP 404 Not Found: the page does not exist"}]
    by_id = {p["id"]: p for p in manifest["pages"]}
    assert [p["status"] for p in manifest["pages"]] == ["ok", "ok", "failed"]
    for page_id in ("tall", "feed"):
        page = by_id[page_id]
        tiles = tiles_from_pdf(result.pdf, page)
        for tile, image in zip(page["tiles"], tiles):
            assert tile["pixels_sha256"] == hashlib.sha256(image.tobytes()).hexdigest()
        assert page["pixels_sha256"] == hashlib.sha256(b"".join(i.tobytes() for i in tiles)).hexdigest()
        for key in ("requested_url", "final_url", "http_status", "capture_start", "capture_end", "browser",
                    "user_agent", "viewport", "device_scale_factor", "title"):
            assert page[key] not in (None, ""), key
    assert by_id["feed"]["title"] == "Götene kommun – flöde"
    assert result.as_dict()["pages"][2] == {"id": "gone", "variant": "desktop", "status": "failed",
                                            "error": "HTTP 404 Not Found: the page does not exist",
                                            "failure": "unavailable"}
    assert catalog.get_bundle(result.bundle_id)["status"] == "partial"


def test_verify_passes_then_detects_any_changed_byte(bundle_2b, tmp_path):
    result, _, catalog = bundle_2b
    row = catalog.get_bundle(result.bundle_id)
    assert verify_bundle(Path(result.location), row).ok
    copy = tmp_path / "copy"
    shutil.copytree(result.location, copy)
    pdf_copy = copy / Path(result.pdf).name
    data = bytearray(pdf_copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    pdf_copy.write_bytes(bytes(data))
    outcome = verify_bundle(copy, row)
    assert not outcome.ok
    assert not next(c for c in outcome.checks if c.name == "PDF SHA-256 matches manifest").ok


def test_verify_detects_a_manifest_rewritten_to_match_a_forged_pdf(bundle_2b, tmp_path):
    """Changing pixels and fixing the manifest's PDF hash is still caught, by pixel hashes and the catalog."""
    result, _, catalog = bundle_2b
    copy = tmp_path / "forged"
    shutil.copytree(result.location, copy)
    pdf_copy = copy / Path(result.pdf).name
    manifest = json.loads((copy / "manifest.json").read_text())
    tile = manifest["pages"][0]["tiles"][0]
    with pikepdf.open(pdf_copy, allow_overwriting_input=True) as pdf:
        image = pdf.pages[tile["pdf_page"] - 1].Resources.XObject[pdf_step.TILE_NAME]
        pil = pikepdf.PdfImage(image).as_pil_image().convert("RGB")
        pil.putpixel((5, 5), (1, 2, 3))
        image.write(pil.tobytes(), filter=pikepdf.Name.Null)
        if "/DecodeParms" in image:
            del image["/DecodeParms"]
        pdf.save(pdf_copy)
    manifest["pdf"]["sha256"] = hashlib.sha256(pdf_copy.read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    alone = verify_bundle(copy)
    assert not alone.ok
    failed = {c.name for c in alone.checks if not c.ok}
    assert any(name.startswith("pixels of tall") for name in failed)
    with_catalog = verify_bundle(copy, catalog.get_bundle(result.bundle_id))
    assert {"PDF SHA-256 matches catalog", "manifest SHA-256 matches catalog"} <= {
        c.name for c in with_catalog.checks if not c.ok}


def test_crash_while_bundling_leaves_nothing_visible(tmp_path, site, browser_choice, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("injected fault: disk full")
    monkeypatch.setattr(pdf_module, "build_pdf", explode)  # the pipeline imports it when bundling
    store_root = tmp_path / "store"
    with pytest.raises(RuntimeError, match="injected fault"):
        make_bundle(tmp_path, site, browser_choice, "2b")
    leftovers = [p for p in store_root.rglob("*") if p.name != "catalog.sqlite" and "catalog.sqlite" not in p.name]
    assert [p for p in leftovers if p.is_file()] == []
    assert LocalStore(store_root).list() == []
    assert Catalog(catalog_url_for(store_root)).list_bundles() == []


def test_store_never_overwrites(tmp_path):
    store = LocalStore(tmp_path)
    bundle_id = "20261124T120000Z-abcdef"
    first = store.staging_dir(bundle_id)
    (first / "manifest.json").write_text("{}")
    store.put(bundle_id, first)
    second = store.staging_dir(bundle_id)
    (second / "manifest.json").write_text('{"other": true}')
    with pytest.raises(StoreError, match="never overwritten"):
        store.put(bundle_id, second)
    assert store.path(bundle_id, "manifest.json").read_text() == "{}"


def test_a_temporary_file_a_killed_rewrite_left_in_a_bundle_is_not_one_of_its_files(tmp_path):
    """`register` rewrites manifest.json through a hidden temporary file; SIGKILLed mid-write, that file stays
    in the bundle folder, and the S3 store must not upload it as part of the bundle."""
    store = LocalStore(tmp_path)
    bundle_id = "20261124T120000Z-abcdef"
    staging = store.staging_dir(bundle_id)
    (staging / "manifest.json").write_text("{}")
    stored = store.put(bundle_id, staging)
    (Path(stored.location) / ".manifest.json.0a1b2c3d4e5f.tmp").write_text('{"half')
    assert store.find(bundle_id).files == ("manifest.json",)
    assert [b.files for b in store.list()] == [("manifest.json",)]


def test_staging_left_by_a_crash_is_swept_after_a_day(tmp_path):
    import os
    import time

    store = LocalStore(tmp_path)
    old = store.staging_dir("20261124T120000Z-abcdef")
    (old / "half.pdf").write_bytes(b"%PDF-1.7 half")
    young = store.staging_dir("20261124T130000Z-abcdef")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    assert store.sweep_stale() == [old]
    assert not old.exists() and young.exists()
    assert store.list() == []


def pdftotext(*args: str) -> str:
    if not shutil.which("pdftotext"):
        if os.environ.get("CI"):
            pytest.fail("poppler's pdftotext is not installed; .ci/run installs poppler-utils")
        pytest.skip("pdftotext not installed")
    return subprocess.run(["pdftotext", *args, "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("flavour", ["1b", "2b"])
def test_text_layer_lets_pdftotext_find_the_posts_where_they_are(flavour, bundle_1b, bundle_2b):
    """Read from the DOM, drawn invisibly over the tiles: an independent tool finds the words, in place."""
    result = (bundle_1b if flavour == "1b" else bundle_2b)[0]
    manifest = json.loads(Path(result.manifest).read_text())
    feed = next(p for p in manifest["pages"] if p["id"] == "feed")
    assert feed["text_layer_words"] > 200
    first, last = feed["pdf_pages"]
    text = pdftotext("-f", str(first), "-l", str(last), result.pdf)
    assert "Plogbilarna är ute sedan klockan fyra. Tack för ert tålamod!" in text
    assert "Inlägg 1: Vinterväghållning på Källby" in text and "Inlägg 20: Vinterväghållning på Källby" in text
    # The first post's heading starts 320 px from the left, 72 + 16 px from the top (feed.html's CSS).
    boxes = pdftotext("-bbox", "-f", str(first), "-l", str(first), result.pdf)
    word = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>Inlägg</word>', boxes)
    assert word, boxes[:2000]
    x_pt, y_pt = float(word.group(1)), float(word.group(2))
    assert abs(x_pt - 320 * pdf_step.PT_PER_PX) < 1.5
    assert abs(y_pt - (pdf_step.LABEL_TOP_PT + 88 * pdf_step.PT_PER_PX)) < 4


def test_verify_names_a_pdfa_failure_by_rule_id_in_words(bundle_2b, tmp_path):
    """What a registrar reads when the PDF/A check fails: the clause, what it means, and where."""
    result, _, _ = bundle_2b
    folder = tmp_path / "copy"
    shutil.copytree(Path(result.pdf).parent, folder)
    pdf_path = folder / Path(result.pdf).name
    with pikepdf.open(pdf_path, allow_overwriting_input=True) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            meta["pdfaid:part"] = "1"
        pdf.save(pdf_path, **pikepdf.pdfa.resolve_save_kwargs("2b"))
    check = next(c for c in verify_bundle(folder).checks if c.name.startswith("PDF/A-2b valid"))
    assert not check.ok
    assert "ISO_19005_2:6.6.4-2: metadata anger inte rätt PDF/A-version (PDF/A identification)" in check.detail
    assert "pdfaid:part is '1', expected 2" in check.detail


@pytest.mark.parametrize(("rule", "words"), [
    ("ISO_19005_1:6.3.4-1", "typsnitt är inte inbäddat"),
    ("ISO_19005_2:6.2.11.4.1-1", "typsnitt är inte inbäddat"),
    ("ISO_19005_2:6.2.11.8-1", ".notdef"),
    ("ISO_19005_1:6.6.1-1", "JavaScript"),
    ("ISO_19005_2:6.2.4.3-2", "färgprofil"),
    ("ISO_19005_2:9.9.9-1", "avsnitt 9.9.9 i ISO 19005-2"),
    ("pikepdf:schema-Catalog", "inte kan bedöma"),
])
def test_rule_ids_are_explained_by_their_nearest_clause(rule, words):
    assert words in explain(rule)


def test_cover_says_what_when_why_by_whom_and_lists_every_image_checksum(bundle_2b):
    result, _, _ = bundle_2b
    manifest = json.loads(Path(result.manifest).read_text())
    cover = pdftotext("-f", "1", "-l", str(manifest["pdf"]["cover_pages"]), result.pdf)
    flat = " ".join(cover.split())
    assert "Skärmdumpar av sociala medier" in flat and "Götene kommun (test)" in flat
    assert "Före en större ändring: ny profilbild" in flat and "Anna Test" in flat
    assert "2 av 3 sidor fångade; 1 misslyckades" in flat
    assert "MISSLYCKADES: sidan eller kontot finns inte" in flat
    for page in manifest["pages"]:
        assert page["requested_url"] in flat
        if page["status"] == "ok":
            first, last = page["pdf_pages"]
            assert (f"{first}–{last}" if last > first else f" {first} ") in flat
            assert page["pixels_sha256"] in flat
            for tile in page["tiles"]:
                assert f"(PDF-sida {tile['pdf_page']}): {tile['pixels_sha256']}" in flat


def test_a_bundle_stored_but_not_catalogued_is_catalogued_by_the_next_run(tmp_path, monkeypatch):
    """SIGTERM between the store's rename and the catalog entry: the next run's first step catalogues it."""
    from synthetic import store_bundle

    from archiver.services import Services

    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "kommun", "url": "http://127.0.0.1:8123/"}], tmp_path / "store"),
                        encoding="utf-8")
    services = Services(registry)
    services.catalog  # noqa: B018 - made before the fault, as a run makes it

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # as SIGTERM's default handler would stop the process here

    monkeypatch.setattr(Catalog, "record_bundle", killed)
    with pytest.raises(KeyboardInterrupt):
        store_bundle(services, "evidence", 1)
    monkeypatch.undo()
    (stored,) = services.store.list()
    assert services.catalog.bundle_ids() == set()

    assert pipeline.catalog_strays(services.store, services.catalog) == [stored.bundle_id]
    row = services.catalog.get_bundle(stored.bundle_id)
    assert row["kind"] == "post" and row["post"]["class"] == "evidence" and row["status"] == "complete"
    assert services.verify(stored.bundle_id).ok
    assert pipeline.catalog_strays(services.store, services.catalog) == []  # once only
