"""Teach by itself, live: watch the model learn, learned and exact side by side on the same noise, linked views.

Every wait is on the page's own state (window.__lab) or its plots' data, never a sleep.
"""

from __future__ import annotations

import math

import httpx
import pytest

from server.streaming.encode import decode_typed_array
from tests.support import parse_sse

from .conftest import fill_fields
from .test_accessibility import AXE, axe_violations, severe

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

RECORD_PREVIEWS = """() => {
  window.__previews = [];
  const plot = document.getElementById('preview-plot');
  new MutationObserver(() => window.__previews.push(
    [Number(plot.dataset.step), window.__lab.state.training.active])).observe(
    plot, { attributes: true, attributeFilter: ['data-step'] });
}"""


def test_watch_it_learn_then_compare_with_the_exact_denoiser_on_the_same_noise(lab, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page = lab
    assert page.is_hidden("#preview-box")
    page.select_option("#dataset", "1d-123")
    fill_fields(page, {"#f-steps": "400", "#f-batch": "256", "#f-T": "200", "#s-n": "300", "#s-frames": "20"})
    page.evaluate(RECORD_PREVIEWS)
    page.click("#train")
    page.wait_for_function("() => window.__lab.state.sampling.result !== null || window.__lab.errors().length > 0")
    assert page.evaluate("window.__lab.errors()") == []
    seen = page.evaluate("window.__previews")
    steps = [step for step, _ in seen]
    # Step 0 (the untrained net) to the last, in order, several of them drawn while the job was still training.
    assert steps == sorted(steps) and steps[-1] == 400, seen
    assert sum(1 for step, active in seen if active and step < 400) >= 2, seen
    assert page.is_visible("#preview-box")
    traces = page.evaluate("document.getElementById('preview-plot').data.map(t => [t.name, t.y.length])")
    assert traces == [["exact", 161], ["network", 161]]
    assert page.text_content("#preview-caption").startswith("Step 400,")

    # Side by side: the same request to the exact denoiser; the circled particles are exactly those the network
    # leaves between modes and the exact denoiser (sampled here by the test itself, same seed) puts in a mode.
    assert page.is_hidden("#split-box")
    page.check("#split")
    page.wait_for_function("() => (document.getElementById('split-box').dataset.stranded ?? '') !== ''")
    learned = page.evaluate("Array.from(window.__lab.state.sampling.result.label)")
    params = page.evaluate("window.__lab.state.sampling.params")
    run_id = page.evaluate("window.__lab.state.run.run_id")
    exact = exact_labels(live_server, run_id, params)
    expected = [i for i, (a, b) in enumerate(zip(learned, exact, strict=True)) if a == 1 and b == 0]
    assert int(page.get_attribute("#split-box", "data-stranded")) == len(expected)
    circled = page.evaluate("document.getElementById('split-plot').data"
                            ".filter(t => t.name === 'stranded only by the network').map(t => t.x.length)")
    assert circled == [len(expected), len(expected)]
    assert page.text_content("#split-caption").startswith("Same 300 starting points and noise.")
    if AXE.is_file():  # the new panels, visible, keep axe-core at zero serious violations (skips without axe)
        assert severe(axe_violations(page)) == []
    # The exact denoiser has nothing to learn: no preview.
    page.check("#oracle")
    page.click("#train")
    page.wait_for_function("() => window.__lab.state.run.kind === 'oracle' && !window.__lab.state.training.active")
    assert page.is_hidden("#preview-box")
    page.wait_for_function("() => document.getElementById('split-caption').textContent.includes('already comes from')")


def exact_labels(base: str, run_id: str, params: dict) -> list[int]:  # type: ignore[type-arg]
    """The labels of the same sample request to the oracle run of ``run_id``'s mixture, read over HTTP."""
    with httpx.Client(base_url=base, timeout=60) as client:
        config = client.get(f"/api/runs/{run_id}").json()["config"]
        oracle = client.post("/api/runs", json={"kind": "oracle", "config": config}).json()["run_id"]
        query = {k: ("" if v is None else str(v)) for k, v in params.items()}
        with client.stream("GET", f"/api/runs/{oracle}/sample", params={**query, "frames": "2"}) as response:
            assert response.status_code == 200
            result = next(data for name, data in parse_sse(response.iter_lines()) if name == "result")
    return decode_typed_array(result["label"]).tolist()


PARTICLE_PIXEL = """(i) => {
  const div = document.getElementById('main-plot');
  const xa = div._fullLayout.xaxis, ya = div._fullLayout.yaxis, rect = div.getBoundingClientRect();
  const lab = window.__lab, frame = lab.state.sampling.frames[lab.frameIndex];
  return [rect.left + xa._offset + xa.l2p(lab.frameIndex), rect.top + ya._offset + ya.l2p(frame.x[0][i])];
}"""

SHAPE = """([id, name]) => (document.getElementById(id).layout.shapes ?? []).find((s) => s.name === name) ?? null"""


def test_hover_links_histogram_and_detector_and_the_x0_chart_follows_the_frame(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.select_option("#dataset", "1d-123")
    page.check("#oracle")
    fill_fields(page, {"#s-n": "400", "#s-frames": "40"})
    page.click("#train")
    page.wait_for_function("() => window.__lab.state.sampling.result !== null && !window.__lab.state.sampling.active")
    page.wait_for_function("() => !window.__lab.player.playing")

    # Hover one particle: the histogram and the detector mark it, and a line says what it is.
    page.mouse.move(*page.evaluate(PARTICLE_PIXEL, 7))
    page.wait_for_function("() => document.getElementById('hover-readout').textContent.startsWith('Under the pointer')")
    hovered = page.evaluate("window.__lab.state.hovered")
    assert f"sample #{hovered}," in page.text_content("#hover-readout")
    final, variance = page.evaluate(f"[window.__lab.state.sampling.result.samples[0][{hovered}],"
                                    f" window.__lab.state.sampling.result.variance[{hovered}]]")
    page.wait_for_function(f"() => ({SHAPE})(['main-plot', 'hovered']) !== null")
    assert page.evaluate(SHAPE, ["main-plot", "hovered"])["y0"] == pytest.approx(final)
    assert page.evaluate(SHAPE, ["detector-plot", "hovered"])["x0"] == pytest.approx(math.log10(variance))
    page.mouse.move(5, 5)  # off the plot: the marks go
    page.wait_for_function("() => document.getElementById('hover-readout').textContent === ''")
    assert page.evaluate(SHAPE, ["detector-plot", "hovered"]) is None

    # The selected particle's x̂0 chart carries the frame as a dotted line, and follows the scrubber.
    page.click("#pick-support")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("Home")
    first_t = page.evaluate("window.__lab.state.sampling.frames[0].t")
    page.wait_for_function(f"() => document.getElementById('traj-plot').dataset.frameT === '{first_t}'")
    nearest = page.evaluate(f"""(() => {{ const ts = document.getElementById('traj-plot').labTs;
        return ts.reduce((b, s, k) => Math.abs(s - {first_t}) < Math.abs(ts[b] - {first_t}) ? k : b, 0); }})()""")
    assert page.evaluate(SHAPE, ["traj-plot", "frame"])["x0"] == nearest  # t = T has no x̂0: the nearest time
    # Clicking the chart near its right end seeks the player to the frame of that time.
    box = page.locator("#traj-plot .nsewdrag").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 3, box["y"] + box["height"] / 2)
    page.wait_for_function("() => window.__lab.frameIndex > 30")
    t = page.evaluate("window.__lab.state.sampling.frames[window.__lab.frameIndex].t")
    page.wait_for_function(f"() => document.getElementById('traj-plot').dataset.frameT === '{t}'")
    assert t < first_t and not page.evaluate("window.__lab.player.playing")


def test_in_2d_the_preview_shows_where_the_network_sends_a_grid_of_points(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.select_option("#dataset", "grid25")
    fill_fields(page, {"#f-steps": "100", "#f-batch": "128", "#f-T": "100", "#s-n": "100", "#s-frames": "5"})
    page.click("#train")
    page.wait_for_function("() => document.getElementById('preview-plot').dataset.step === '100'")
    traces = page.evaluate("document.getElementById('preview-plot').data.map(t => [t.name, t.x.length, t.y.length])")
    assert traces == [["network", 625, 625], ["exact", 625, 625]]
    assert page.evaluate("document.getElementById('preview-plot').layout.yaxis.scaleanchor") == "x"
    assert "between the clusters" in page.text_content("#preview-caption")
    page.wait_for_function("() => window.__lab.state.sampling.result !== null || window.__lab.errors().length > 0")
    assert page.evaluate("window.__lab.errors()") == []
