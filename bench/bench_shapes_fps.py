"""Frame rate of the Simple Shapes page's grid animation in headless chromium (goal: ≥ 20 fps with 64 images).

Starts the real app under uvicorn on loopback, opens ``/shapes`` on a grid of N images (the exact denoiser by
default: its stream is quick, and the page draws the same arrays whichever run made them), waits for the stream to
finish, then replays every received frame at "max" speed (one putImageData of the whole grid per animation frame,
no frame skipped) and reports frames per second. Prints one JSON object.

    .venv/bin/python bench/bench_shapes_fps.py [--n 64] [--repeats 3] [--trained] [--url http://127.0.0.1:8000]

Headless chromium draws without a GPU here, so this is a worst case; on a busy 2-core machine it varies run to run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_page_fps import CHROMIUM_ARGS, fps_summary, on_a_lab  # noqa: E402

DONE = ("() => window.__shapes && ((window.__shapes.S.result !== null && !window.__shapes.S.streaming)"
        " || window.__shapes.errors().length > 0)")


def measure(base: str, n: int, repeats: int, oracle: bool) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(300_000)
        t0 = time.perf_counter()
        page.goto(f"{base}/shapes#n={n}{'&oracle=1' if oracle else ''}")
        page.wait_for_function(DONE)
        errors = page.evaluate("window.__shapes.errors()")
        if errors:
            raise RuntimeError(f"the page reported: {errors}")
        page.wait_for_function("() => !window.__shapes.player.playing")
        stream_seconds = time.perf_counter() - t0
        meta = page.evaluate("window.__shapes.S.meta")
        runs = [page.evaluate("window.__shapes.measurePlayback()") for _ in range(repeats)]
        version = browser.version
        browser.close()
    return {
        "benchmark": "shapes_page_fps",
        "browser": f"chromium {version} headless, --disable-gpu",
        "run_kind": meta["kind"],
        "images": meta["n"],
        "resolution": meta["resolution"],
        **fps_summary(runs),
        "page_and_stream_seconds": round(stream_seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trained", action="store_true", help="sample the bundled U-Net instead of the oracle")
    parser.add_argument("--url", default=None, help="use a running lab at this base URL instead of starting one")
    args = parser.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("Debian chromium is not installed (apt-get install chromium)")
    print(json.dumps(on_a_lab(args.url, lambda base: measure(base, args.n, args.repeats, not args.trained))))

if __name__ == "__main__":
    main()
