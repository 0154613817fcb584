"""The Simple Shapes page in real Chromium against the real server and the bundled U-Net: the grid animates,
duplicates are outlined and described, a duplicate's film strip opens, the oracle draws none, the lesson walks
through, a permalink replays after a restart. Small grids on short DDIM chains keep each stream to a few seconds.

Counts, run ids and result ids are read from the page and the API, never written here: the bundled model may be
replaced by a better one. Every wait is on the page's own state (window.__shapes), never a sleep."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from server.app import create_app
from server.settings import Settings
from tests.support import serve_in_thread

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

QUICK = "sampler=ddim&steps=20"  # a short deterministic chain (window 10 fits)
DONE = ("() => window.__shapes && ((window.__shapes.S.result !== null && !window.__shapes.S.streaming)"
        " || window.__shapes.errors().length > 0)")
STATE = """() => {
  const S = window.__shapes.S;
  const name = (i) => S.meta.labels[S.result.label[i]];
  return {meta: S.meta, labels: Array.from(S.result.label, (_, i) => name(i)), reasons: S.result.reasons,
          cells: Array.from(document.querySelectorAll('#grid-cells .cell')).map((c) => ({label: c.dataset.label,
            title: c.title, aria: c.getAttribute('aria-label'), badge: c.querySelector('.badge').textContent,
            border: getComputedStyle(c, '::before').borderTopStyle})),
          frames: S.frames.length, errors: window.__shapes.errors()};
}"""
# Per labelled cell: how many image pixels its badge and its outline cover (the canvas pixels under them that are not
# the background colour), whether the badge's box meets the image's, and the image pixels under the cell itself
# (all of them: the check reads the right place).
UNDER_CUES = """() => {
  const canvas = document.getElementById('grid');
  const box = canvas.getBoundingClientRect();
  const k = canvas.width / box.width;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const image = (r) => {  // native pixels inside r (less half a CSS pixel: anti-aliased edges) that are not background
    let n = 0;
    const x0 = Math.max(0, Math.floor((r.left - box.left + 0.5) * k));
    const x1 = Math.min(canvas.width, Math.ceil((r.right - box.left - 0.5) * k));
    const y0 = Math.max(0, Math.floor((r.top - box.top + 0.5) * k));
    const y1 = Math.min(canvas.height, Math.ceil((r.bottom - box.top - 0.5) * k));
    for (let y = y0; y < y1; y += 1) for (let x = x0; x < x1; x += 1) {
      const i = 4 * (y * canvas.width + x);
      if (data[i] !== 223 || data[i + 1] !== 229 || data[i + 2] !== 236) n += 1;
    }
    return n;
  };
  const rect = (left, top, right, bottom) => ({left, top, right, bottom});
  return Array.from(document.querySelectorAll('#grid-cells .cell[data-label]'))
    .filter((c) => c.dataset.label && c.dataset.label !== 'valid').map((c) => {
      const b = c.querySelector('.badge').getBoundingClientRect();
      const r = c.getBoundingClientRect();
      const w = parseFloat(getComputedStyle(c, '::before').borderTopWidth);
      const ring = [rect(r.left - w, r.top - w, r.right + w, r.top),
        rect(r.left - w, r.bottom, r.right + w, r.bottom + w),
        rect(r.left - w, r.top, r.left, r.bottom), rect(r.right, r.top, r.right + w, r.bottom)];
      return {image: Number(c.dataset.image), badge: image(b), outline: ring.reduce((s, q) => s + image(q), 0),
        meets: b.left < r.right - 0.5 && b.right > r.left + 0.5 && b.top < r.bottom - 0.5 && b.bottom > r.top + 0.5,
        size: [b.width, b.height, w], cell: image(r)};
    });
}"""


def finished(page) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    page.wait_for_function(DONE)
    state: dict[str, Any] = page.evaluate(STATE)
    assert state["errors"] == [], state["errors"]
    return state


def bootstrap(page) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return json.loads(page.text_content("#bootstrap"))  # type: ignore[no-any-return]


def test_the_shapes_page_loads_and_animates(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/shapes#n=6&{QUICK}")
    boot = bootstrap(page)
    trained = next(r for r in boot["runs"] if r["kind"] == "trained")
    # Frames arrive and the player moves through them while the stream is still open or just after.
    page.wait_for_function("() => window.__shapes.S.frames.length > 2 && window.__shapes.player.rendered > 2")
    state = finished(page)
    assert state["meta"]["run_id"] == trained["run_id"] and state["meta"]["n"] == 6
    assert state["frames"] == len(state["meta"]["frame_ts"]) and len(state["cells"]) == 6
    # The canvas shows the images: not one flat colour.
    spread = page.evaluate("""() => { const c = document.getElementById('grid');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let lo = 255, hi = 0;
        for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
        return hi - lo; }""")
    assert spread > 100
    page.wait_for_function("() => !window.__shapes.player.playing")
    assert page.evaluate("window.__shapes.player.index") == state["frames"] - 1  # played to the end
    page.click("#back10")
    assert page.evaluate("window.__shapes.player.index") == state["frames"] - 11
    page.check("#view-xt")  # the label follows at the next drawn frame
    page.wait_for_function("() => document.getElementById('time-label').textContent.endsWith('x_t')")
    # Every image says its label and reason in words, for the mouse and for a screen reader.
    for cell, label, reason in zip(state["cells"], state["labels"], state["reasons"], strict=True):
        assert label in cell["aria"] and reason in cell["aria"] and cell["title"] == cell["aria"]
    # The way back to the point datasets: the picker lists them, each an explorer address.
    hrefs = page.eval_on_selector_all("#dataset option", "els => els.map((e) => e.value)")
    assert any(h.startswith("/#") for h in hrefs) and len(hrefs) == len(boot["datasets"]) + 1
    # ... and the explorer's picker lists the images, which open this page.
    page.goto(f"{live_server}/?open=none")
    page.wait_for_function("() => window.__lab !== undefined && window.__lab.opened")
    page.select_option("#dataset", "page:/shapes")
    page.wait_for_url(f"{live_server}/shapes")
    page.wait_for_function("() => window.__shapes !== undefined")


def test_duplicates_are_outlined_described_and_open_their_film_strip(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    state: dict[str, Any] = {}
    for seed in range(6):  # a duplicate in a few percent of images: one of these grids holds one
        page.goto(f"{live_server}/shapes?try={seed}#n=32&seed={seed}&{QUICK}")  # a new query: a fresh page
        state = finished(page)
        if "duplicate" in state["labels"]:
            break
    assert "duplicate" in state["labels"], "no duplicate in six grids of 32 images"
    cues = {"duplicate": ("dashed", "2×"), "malformed": ("dotted", "?"), "empty": ("double", "∅")}
    for cell, label in zip(state["cells"], state["labels"], strict=True):
        assert cell["label"] == label
        if label in cues:  # colour plus a second cue: the outline's style and a badge
            assert (cell["border"], cell["badge"]) == cues[label], (label, cell)
    # The badge and the outline sit in the background around the image: they hide none of its pixels.
    res = state["meta"]["resolution"]
    for cue in page.evaluate(UNDER_CUES):
        assert cue["cell"] == res * res and min(cue["size"]) >= 2, cue  # the cell is the image; the cues are drawn
        assert (cue["badge"], cue["outline"], cue["meets"]) == (0, 0, False), cue
    dup = state["labels"].index("duplicate")
    # Scrubbing back to the noise keeps the outline (it is the image's final label).
    page.evaluate("window.__shapes.player.pause(); window.__shapes.player.seek(0)")
    assert page.get_attribute(f'.cell[data-image="{dup}"]', "data-label") == "duplicate"
    page.click(f'.cell[data-image="{dup}"]')
    k = state["meta"]["window"]
    assert page.locator("#strip .tile").count() == k
    info = page.text_content("#strip-info")
    assert f"Image {dup + 1}: duplicate" in info and state["reasons"][dup] in info and "Variance" in info
    assert page.locator("#strip-counts td.too-many").count() >= 1  # two of one kind in a column, in the table
    assert page.get_attribute(f'.cell[data-image="{dup}"]', "aria-pressed") == "true"
    assert f"sel={dup}" in page.evaluate("window.location.hash")
    # Exports: the grid as a PNG drawn in the page, the stored result as CSV (one row per image) and NPZ.
    with page.expect_download() as download:
        page.click("#export-png")
    png = Path(download.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and download.value.suggested_filename.endswith(".png")
    csv = page.request.get(live_server + page.get_attribute("#export-csv", "href"))
    rows = csv.text().strip().splitlines()
    assert csv.ok and rows[0].startswith("image,label,reason") and len(rows) == 1 + 32
    assert rows[1 + dup].split(",")[1] == "duplicate"
    assert page.request.get(live_server + page.get_attribute("#export-npz", "href")).ok


def test_the_oracle_toggle_yields_no_duplicate(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/shapes#n=16&{QUICK}")
    boot = bootstrap(page)
    oracle = next(r for r in boot["runs"] if r["kind"] == "oracle")
    finished(page)
    page.click("#oracle")
    page.wait_for_function("() => window.__shapes.S.meta && window.__shapes.S.meta.kind === 'oracle'")
    state = finished(page)
    assert state["meta"]["run_id"] == oracle["run_id"]
    assert "duplicate" not in state["labels"] and len(state["labels"]) == 16
    assert page.locator('.cell[data-label="duplicate"]').count() == 0
    assert "oracle=1" in page.evaluate("window.location.hash")


def test_the_shapes_lesson_walks_through(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/?lesson=shapes&presenter=1&hide=map")  # the explorer sends it on to /shapes
    assert "/shapes?lesson=shapes" in page.url
    boot = bootstrap(page)
    steps = boot["lessons"][0]["steps"]
    state = finished(page)
    assert page.text_content("#lesson-count") == f"step 1 of {len(steps)}"
    assert page.evaluate("document.body.classList.contains('presenter')")
    assert page.is_hidden("#map-card")
    # Predict first: no cue and no reason until the reveal.
    assert page.is_visible("#reveal") and page.locator('.cell[data-label]:not([data-label=""])').count() == 0
    assert all("hidden until the reveal" in c["aria"] for c in state["cells"])
    page.click("#reveal")
    assert page.locator('.cell[data-label]:not([data-label=""])').count() == len(state["labels"])
    for number in range(2, len(steps) + 1):
        page.click("#lesson-next")
        page.wait_for_function(f"() => document.getElementById('lesson-count').textContent === 'step {number} of "
                               f"{len(steps)}'")
        state = finished(page)
        assert page.text_content("#lesson-step-title") == steps[number - 1]["title"]
        if "oracle=1" in steps[number - 1]["hash"]:
            assert state["meta"]["kind"] == "oracle" and "duplicate" not in state["labels"]
    assert page.is_disabled("#lesson-next")


def _serve(data_dir: Path) -> tuple[Any, Any, str]:
    return serve_in_thread(create_app(Settings(data_dir=data_dir)), lifespan="on", timeout_graceful_shutdown=5)


def test_a_permalink_replays_after_a_server_restart(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, thread, base = _serve(tmp_path / "data")
    try:
        page.goto(f"{base}/shapes#n=4&seed=3&{QUICK}")
        first = finished(page)
        images = page.evaluate("Array.from(window.__shapes.S.result.images)")
    finally:
        server.should_exit = True
        thread.join(15)
    result_id = first["meta"]["result_id"]
    server, thread, base = _serve(tmp_path / "data")
    try:
        with urllib.request.urlopen(f"{base}/healthz") as r:
            started = json.load(r)["computations_started"]
        page.goto(f"{base}/r/{result_id}#frame=3&sel=2&xt=1")
        again = finished(page)
        page.wait_for_function("() => window.__shapes.S.selected === 2")
        assert again["meta"] == first["meta"] and again["labels"] == first["labels"]
        assert page.evaluate("Array.from(window.__shapes.S.result.images)") == images
        assert page.evaluate("window.__shapes.player.index") == 3 and page.is_checked("#view-xt")
        with urllib.request.urlopen(f"{base}/healthz") as r:
            assert json.load(r)["computations_started"] == started  # replayed from the stored file, not sampled
    finally:
        server.should_exit = True
        thread.join(15)


def test_a_refused_request_names_its_field_and_the_limit(page, page_log, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page_log.allowed_console.append("422")  # the refused stream, as the browser logs it
    html = page.request.get(f"{live_server}/shapes").text()  # the bootstrap, without running the page
    most = json.loads(html.split('type="application/json">')[1].split("</script>")[0])["limits"]["max_image_n"]
    page.goto(f"{live_server}/shapes#n={most + 1}&{QUICK}")
    page.wait_for_function("() => window.__shapes && window.__shapes.errors().length > 0")
    [message] = page.evaluate("window.__shapes.errors()")
    assert "images" in message and str(most) in message, message  # the form's own word for n, and the limit
    assert page.get_attribute("#s-n", "aria-invalid") == "true"


MOMENT = """() => ({result: window.__shapes.S.meta.result_id, frame: window.__shapes.player.index,
  sel: window.__shapes.S.selected, view: window.__shapes.S.view, readout: document.getElementById('detector-readout')
  .textContent, strip: document.getElementById('strip-info').textContent})"""


def test_copy_link_reproduces_the_grid_and_the_moment(page, browser, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/shapes#n=8&seed=2&{QUICK}")
    finished(page)
    page.wait_for_function("() => !window.__shapes.player.playing")
    page.evaluate("window.__shapes.player.seek(7)")
    page.click('.cell[data-image="3"]')
    page.check("#view-xt")
    page.eval_on_selector("#threshold", "el => { el.value = '300'; el.dispatchEvent(new Event('input')); }")
    page.wait_for_function("() => window.__shapes.player.index === 7 && window.__shapes.S.view === 'xt'")
    before = page.evaluate(MOMENT)
    page.click("#copy-link")
    link = page.input_value("#share-url")
    assert all(f"{key}=" in link for key in ("n", "seed", "frame", "sel", "thr", "xt")), link
    with urllib.request.urlopen(f"{live_server}/healthz") as r:
        started = json.load(r)["computations_started"]
    other = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    other.goto(link)
    finished(other)
    other.wait_for_function("() => window.__shapes.S.selected === 3 && window.__shapes.player.index === 7")
    assert other.evaluate(MOMENT) == before
    with urllib.request.urlopen(f"{live_server}/healthz") as r:
        assert json.load(r)["computations_started"] == started  # the same result id: replayed, not sampled
    other.context.close()
