"""`make bench`'s recording set: what recording the visit into a WACZ costs (issue 15).

Ours alone, on the plain set (the ten feed pages and the 60,000 px page): the same run with
`bundle: {wacz: true}` (the default) and `{wacz: false}`, interleaved, REPEATS times each; the median
wall seconds, CPU seconds of the whole process tree, peak memory, and the WACZ's size beside the PDF's.
The difference is the price of the web archive: pausing every response in the page's session for its
body, writing the WARCs, the whole-page PNG, and py-wacz's index and package.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from archiver.demo.server import serve_directory, tall_page
from bench.pages import write_site


def run_recording(tmp: Path, measure, register_yaml, command, repeats: int, tall) -> dict:
    site = write_site(tmp / "site")
    pages = [*site, tall]
    samples: dict[str, list] = {"wacz": [], "no wacz": []}
    sizes: dict[str, list] = {"wacz": [], "pdf": []}
    with serve_directory(tmp / "site", routes={tall.path: tall_page(tall.height_px)}) as base_url:
        for rep in range(repeats):
            for name, wacz in (("wacz", True), ("no wacz", False)):
                folder = tmp / f"{name.replace(' ', '-')}-{rep}"
                folder.mkdir(parents=True)
                registry = folder / "pages.yaml"
                text = register_yaml(pages, base_url, folder / "store")
                setting = f"bundle:\n  pdfa: 2b\n  wacz: {str(wacz).lower()}"
                registry.write_text(text.replace("bundle:\n  pdfa: 2b", setting), encoding="utf-8")
                samples[name].append(measure(command(registry), folder / "run.log"))
                if wacz:
                    stored = next((folder / "store").rglob("manifest.json"))
                    manifest = json.loads(stored.read_text(encoding="utf-8"))
                    sizes["wacz"].append(manifest["wacz"]["bytes"])
                    sizes["pdf"].append(manifest["pdf"]["bytes"])

    def median(name: str, field: str) -> float:
        return statistics.median(getattr(s, field) for s in samples[name])

    on, off = ({"seconds": round(median(n, "seconds"), 2), "cpu_s": round(median(n, "cpu_s"), 2),
                "peak_mb": round(median(n, "peak_mb")), "own_peak_mb": round(median(n, "own_peak_mb"))}
               for n in ("wacz", "no wacz"))
    return {"pages": len(pages), "repeats": repeats, "with_wacz": on, "without_wacz": off,
            "wall_ratio": round(on["seconds"] / off["seconds"], 3),
            "cpu_ratio": round(on["cpu_s"] / off["cpu_s"], 3),
            "wacz_mb": round(statistics.median(sizes["wacz"]) / 2**20, 2),
            "pdf_mb": round(statistics.median(sizes["pdf"]) / 2**20, 2)}


def recording_report(figures: dict) -> str:
    on, off = figures["with_wacz"], figures["without_wacz"]
    lines = [f"{'':16}{'seconds':>10}{'CPU s':>10}{'tree MB':>10}{'ours MB':>10}"]
    for label, run in (("with WACZ", on), ("without WACZ", off)):
        lines.append(f"{label:16}{run['seconds']:>10.2f}{run['cpu_s']:>10.2f}{run['peak_mb']:>10}"
                     f"{run['own_peak_mb']:>10}")
    wall, cpu = 100 * (figures["wall_ratio"] - 1), 100 * (figures["cpu_ratio"] - 1)
    lines += [f"recording costs {wall:+.1f} % wall and {cpu:+.1f} % CPU on {figures['pages']} pages",
              f"WACZ {figures['wacz_mb']} MB beside a PDF of {figures['pdf_mb']} MB",
              f"median of {figures['repeats']} runs each, interleaved; whole commands."]
    return "\n".join(lines)
