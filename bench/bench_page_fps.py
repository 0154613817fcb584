"""Frame rate of the page's reverse-process animation in headless chromium (goal: ≥ 20 fps).

Starts the real app under uvicorn on loopback, opens the page, samples N particles from the exact
(oracle) grid25 denoiser through the UI, waits for the stream to finish, then replays every received
frame at "max" speed (one Plotly.react per animation frame, no frame skipped) and reports frames per
second. Prints one JSON object.

    .venv/bin/python bench/bench_page_fps.py [--n 2000] [--frames 100] [--repeats 3]

With ``--screenshot docs/screenshot.png --preset grid25`` it also saves the page (1400×900) after
sampling; the README screenshot uses the trained grid25 preset, where hallucinations are visible.

Caveat: headless chromium with --disable-gpu draws WebGL in software on the CPU, so this is a
worst case; a laptop with a GPU is faster. On a busy 2-core machine the figure varies run to run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.app import create_app  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.support import serve_in_thread  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def shrink(path: Path) -> None:
    """Keep the committed screenshot small (< 300 KB): 256-colour palette PNG."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from png_shrink import read_png, write_palette_png

    write_palette_png(read_png(path), path)


def start_server(data_dir: Path) -> tuple[uvicorn.Server, threading.Thread, str]:
    return serve_in_thread(create_app(Settings(data_dir=data_dir, torch_threads=2)))


def measure(base: str, n: int, frames: int, repeats: int, preset: str, screenshot: Path | None) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(180_000)
        page.goto(base + "/")
        page.wait_for_function("() => window.__lab !== undefined")
        page.fill("#s-n", str(n))
        page.fill("#s-frames", str(frames))
        page.select_option("#preset", preset)
        t0 = time.perf_counter()
        page.click("#train")
        page.wait_for_function("() => window.__lab.state.sampling.result !== null || window.__lab.errors().length > 0")
        errors = page.evaluate("window.__lab.errors()")
        if errors:
            raise RuntimeError(f"the page reported: {errors}")
        page.wait_for_function("() => !window.__lab.player.playing && !window.__lab.state.sampling.active")
        stream_seconds = time.perf_counter() - t0
        runs = [page.evaluate("window.__lab.measurePlayback()") for _ in range(repeats)]
        if screenshot is not None:
            if not page.is_disabled("#pick-between"):
                page.click("#pick-between")  # show the drill-down of one hallucinated sample
            page.evaluate("document.activeElement.blur(); document.querySelector('.controls').scrollTop = 0")
            page.wait_for_timeout(500)
            page.screenshot(path=str(screenshot))
            shrink(screenshot)
        version = browser.version
        browser.close()
    return {
        "benchmark": "page_fps",
        "browser": f"chromium {version} headless, --disable-gpu (software WebGL)",
        "preset": preset,
        "particles": n,
        **fps_summary(runs, draw_key="plotly_ms_per_frame_median"),
        "sample_stream_seconds": round(stream_seconds, 2),
    }


def fps_summary(runs: list[dict[str, float]], *, draw_key: str = "draw_ms_per_frame_median") -> dict[str, object]:
    """Frames per second of repeated playbacks (``Player.measure`` results) against the 20 fps goal."""
    fps = [r["fps"] for r in runs]
    return {
        "frames": runs[0]["frames"],
        "fps_median": round(statistics.median(fps), 1),
        "fps_runs": [round(v, 1) for v in fps],
        "ms_per_frame_median": round(1000 / statistics.median(fps), 1),
        draw_key: round(statistics.median(r["drawMs"] for r in runs), 2),
        "goal_fps": 20,
        "meets_goal": statistics.median(fps) >= 20,
    }


def on_a_lab(url: str | None, measure_at: Callable[[str], dict[str, object]]) -> dict[str, object]:
    """``measure_at(base URL)`` on the running lab at ``url``, or on a fresh one on a temporary data dir."""
    if url:
        return measure_at(url)
    with tempfile.TemporaryDirectory(prefix="modelab-bench-") as tmp:
        server, thread, base = start_server(Path(tmp))
        try:
            return measure_at(base)
        finally:
            server.should_exit = True
            thread.join(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset", default="grid25-oracle", help="a preset id of the page (trained ones train first)")
    parser.add_argument("--screenshot", type=Path, default=None, help="save a 1400×900 PNG of the page here")
    parser.add_argument("--url", default=None, help="use a running lab at this base URL instead of starting one")
    args = parser.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("Debian chromium is not installed (apt-get install chromium)")
    print(json.dumps(on_a_lab(args.url, lambda base: measure(base, args.n, args.frames, args.repeats, args.preset,
                                                             args.screenshot))))

if __name__ == "__main__":
    main()
