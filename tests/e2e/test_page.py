"""The lab page in a real browser: load offline, train, animate, highlight, detect, edit, fail politely.

Every wait is on the page's own progress (window.__lab), never a sleep.
"""

from __future__ import annotations

import re

import pytest

from .conftest import fill_fields

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def summary(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate("window.__lab.summaryText()")


def wait_result(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("() => window.__lab.state.sampling.result !== null || window.__lab.errors().length > 0")
    assert page.evaluate("window.__lab.errors()") == []


def use_oracle(page, preset: str) -> None:  # type: ignore[no-untyped-def]
    page.select_option("#preset", preset)
    assert page.is_checked("#oracle")
    page.click("#train")
    wait_result(page)


def test_page_loads_offline_with_the_bundled_plotly(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    import plotly.offline

    lab = page
    lab.goto(live_server + "/")
    lab.wait_for_function("() => window.__lab && window.__lab.state.opened && !window.__lab.state.sampling.active")

    assert lab.evaluate("window.Plotly.version") == plotly.offline.get_plotlyjs_version()
    datasets = lab.eval_on_selector_all("#dataset option", "os => os.map(o => o.value)")
    assert {"1d-123", "1d-1245", "grid25", "diamond25", "custom"} <= set(datasets)
    assert lab.eval_on_selector_all("#preset option", "os => os.length") > 4
    # The default dataset (grid25) is drawn: 25 support discs, one WebGL plot only.
    assert lab.evaluate("document.getElementById('main-plot').layout.shapes.length") == 25
    assert lab.evaluate("document.querySelectorAll('canvas.gl-canvas-context').length") <= 3
    # Ready the moment it opens: the default (bundled) run, sampled with no training.
    assert lab.evaluate("window.__lab.state.run.run_id") == lab.evaluate("window.__lab.state.bootstrap.default_run")
    # The particles are drawn, with WebGL or (as in this --disable-gpu browser) SVG markers: never Plotly's
    # "WebGL is not supported" notice in place of the plot.
    assert "WebGL is not supported" not in lab.inner_text("#main-plot")
    svg_points = lab.evaluate("document.querySelectorAll('#main-plot .scatterlayer .points path').length")
    gl_traces = lab.evaluate("document.querySelectorAll('#main-plot canvas.gl-canvas-context').length")
    assert svg_points >= 1000 or gl_traces >= 1


def test_train_tiny_1d_model_then_watch_detect_and_inspect(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.select_option("#dataset", "1d-123")
    fill_fields(page, {"#f-steps": "200", "#f-batch": "256", "#f-T": "200", "#s-n": "1000", "#s-frames": "60"})
    page.click("#train")

    # Training: the loss curve grows and the progress bar fills (or the run ends first).
    page.wait_for_function(
        "() => (document.getElementById('loss-plot').data[0]?.x.length ?? 0) > 0"
        " || window.__lab.state.sampling.meta !== null")
    page.wait_for_function("() => Number(document.getElementById('progress').getAttribute('aria-valuenow')) > 0")

    # Sampling animates: frames keep arriving and the time slider moves forward.
    page.wait_for_function("() => window.__lab.framesReceived >= 5")
    page.wait_for_function("() => Number(document.getElementById('time').value) > 0")
    wait_result(page)
    assert page.evaluate("window.__lab.framesReceived") == 60
    page.wait_for_function("() => !window.__lab.player.playing")

    # Highlighting: between-mode samples get their own vermillion diamond trace, sized by the result.
    traces = page.evaluate(
        "document.getElementById('main-plot').data.map(t => ({name: t.name, n: t.y.length,"
        " symbol: t.marker && t.marker.symbol, color: t.marker && t.marker.color}))")
    n_between = page.evaluate("window.__lab.state.sampling.idx.between.length")
    between = [t for t in traces if t["name"].startswith("between modes")]
    assert len(between) == 1 and between[0]["n"] == n_between
    assert between[0]["symbol"] == "diamond" and between[0]["color"].upper() == "#D55E00"

    # The summary line says it in words, in an aria-live region.
    text = summary(page)
    assert re.search(r"^[\d,]+ of 1,000 samples \(\d+\.\d%\) landed between modes", text), text
    assert page.get_attribute("#summary", "aria-live") == "polite"

    # Detector: numbers at the 96%-kept default, and they change with the threshold slider.
    before = page.evaluate("window.__lab.detectorText()")
    kept_96 = re.compile(r"keeps 96\.\d% of in-support samples")  # the lowest threshold keeping ≥ 96%
    assert kept_96.search(before) and "AUROC" in before, before
    page.eval_on_selector("#threshold", "el => { el.value = el.min; el.dispatchEvent(new Event('input')); }")
    after = page.evaluate("window.__lab.detectorText()")
    assert after != before and not kept_96.search(after), after
    page.click("#threshold-reset")
    assert page.evaluate("window.__lab.detectorText()") == before

    # Inspect one hallucinated particle: its x̂0 trajectory, with the last-K window drawn.
    if n_between:
        page.click("#pick-between")
        page.wait_for_function("() => document.getElementById('traj-info').textContent.startsWith('Sample #')")
        assert "between the modes" in page.text_content("#traj-info") or "outside" in page.text_content("#traj-info")
        assert page.evaluate("document.getElementById('traj-plot').data.length") == 1
        assert page.evaluate("document.getElementById('traj-plot').layout.shapes[0].type") == "rect"

    # Keyboard: arrows step (shift = 10), space plays and pauses.
    last = page.evaluate("window.__lab.frameIndex")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("window.__lab.frameIndex") == last - 1
    page.keyboard.press("Shift+ArrowLeft")
    assert page.evaluate("window.__lab.frameIndex") == last - 11
    page.keyboard.press("Shift+ArrowRight")
    assert page.evaluate("window.__lab.frameIndex") == last - 1
    page.select_option("#speed", "5")  # 0.25×: the replay from frame 0 lasts seconds
    page.evaluate("document.activeElement.blur()")  # keys typed into a form control stay there
    page.keyboard.press("Home")
    assert page.evaluate("window.__lab.frameIndex") == 0
    page.keyboard.press(" ")
    assert page.evaluate("window.__lab.player.playing") is True
    page.keyboard.press(" ")
    assert page.evaluate("window.__lab.player.playing") is False


def test_oracle_grid_keeps_highlight_when_scrubbing_back(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.fill("#s-n", "1000")
    page.fill("#s-frames", "40")
    use_oracle(page, "grid25-oracle")
    page.wait_for_function("() => !window.__lab.player.playing")
    assert re.search(r"of 1,000 samples", summary(page))
    labels = page.evaluate("Array.from(window.__lab.state.sampling.result.label.slice(0, 5))")
    assert all(v in (0, 1, 2) for v in labels)
    # Scrub to the initial noise: the particles are still split into the labelled traces.
    page.eval_on_selector("#time", "el => { el.value = 0; el.dispatchEvent(new Event('input')); }")
    page.wait_for_function("() => window.__lab.frameIndex === 0")
    # The label and plot follow on the next animation frame that is free (a draw may still be running).
    page.wait_for_function("() => document.getElementById('time-label').textContent.startsWith('frame 1/40')")
    page.wait_for_function(
        "() => document.getElementById('main-plot').data[1].name.startsWith('in support')")

    # Clicking on a particle selects it (nearest within a few pixels) and shows its x̂0 over time.
    page.evaluate("document.activeElement.blur()")  # keys typed into a form control stay there
    page.keyboard.press("End")
    page.wait_for_function("() => window.__lab.frameIndex === 39")
    target = page.evaluate("""() => {
        const div = document.getElementById('main-plot'), fl = div._fullLayout, r = div.getBoundingClientRect();
        const f = window.__lab.state.sampling.frames[39];
        return {x: r.left + fl.xaxis._offset + fl.xaxis.l2p(f.x[0][7]),
                y: r.top + fl.yaxis._offset + fl.yaxis.l2p(f.x[1][7])};
    }""")
    page.mouse.click(target["x"], target["y"])
    page.wait_for_function("() => window.__lab.state.selected !== null")
    assert page.text_content("#traj-info").startswith("Sample #")


def test_training_can_be_cancelled(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.select_option("#dataset", "1d-123")
    page.fill("#f-steps", "20000")
    page.fill("#f-batch", "64")
    page.click("#train")
    page.wait_for_function("() => /^Step /.test(document.getElementById('progress-text').textContent)")
    page.click("#cancel")
    page.wait_for_function("() => document.getElementById('progress-text').textContent === 'Training cancelled.'")
    assert not page.is_disabled("#train") and page.is_disabled("#cancel")
    assert page.evaluate("window.__lab.errors()") == []


def test_server_error_event_is_shown(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.fill("#s-n", "200")
    page.fill("#s-frames", "10")
    use_oracle(page, "1d-123-oracle")
    page.route("**/sample?**", lambda route: route.fulfill(
        status=200, content_type="text/event-stream",
        body='event: error\ndata: {"message": "sampling failed: out of particles"}\n\n'))
    page.click("#sample")
    page.wait_for_selector("#errors:not([hidden])")
    assert "sampling failed: out of particles" in page.text_content("#error-list")


def test_editing_modes_switches_to_a_custom_mixture(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.click("#edit-modes")  # editing is a mode switched on (and off) by this button
    box = page.locator("#main-plot .nsewdrag").first.bounding_box()
    assert box is not None
    # An empty spot near a corner of the plot area adds a mode.
    page.mouse.click(box["x"] + box["width"] * 0.97, box["y"] + box["height"] * 0.03)
    assert page.input_value("#dataset") == "custom"
    assert page.evaluate("window.__lab.state.mixture.means.length") == 26
    # Shift-click on that new mode removes it again.
    page.keyboard.down("Shift")
    page.mouse.click(box["x"] + box["width"] * 0.97, box["y"] + box["height"] * 0.03)
    page.keyboard.up("Shift")
    assert page.evaluate("window.__lab.state.mixture.means.length") == 25
    # 1D: the editable table; adding a mode makes the mixture custom as well.
    page.select_option("#dataset", "1d-1245")
    assert page.locator("#modes-body tr").count() == 4
    page.click("#add-mode-1d")
    assert page.locator("#modes-body tr").count() == 5
    assert page.input_value("#dataset") == "custom"
    page.fill("#modes-body tr:nth-child(1) input[data-field='sigma']", "0.08")
    assert page.evaluate("window.__lab.state.mixture.sigma[0]") == 0.08


def test_bad_inputs_are_explained_on_the_page(lab, page_log) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page_log.allowed_console.append("422")  # chromium logs the refused request itself
    page.select_option("#dataset", "1d-123")
    page.fill("#f-lr", "5")
    page.click("#train")
    page.wait_for_selector("#errors:not([hidden])")
    text = page.text_content("#error-list")
    assert "learning rate:" in text and "train.lr" not in text, text  # the page's word for the field
    assert page.get_attribute("#f-lr", "aria-invalid") == "true"
    assert not page.is_disabled("#train")

    # A refused sampling stream (422 before the stream starts) is explained too.
    page.click("#error-dismiss")
    page.fill("#f-lr", "0.003")
    page.fill("#s-frames", "1")
    page.select_option("#preset", "1d-123-oracle")  # an exact preset opens at once: no Train press
    page.wait_for_selector("#errors:not([hidden])")
    page.wait_for_function("() => !window.__lab.state.sampling.active && !window.__lab.state.training.active")
    assert "frames:" in page.text_content("#error-list")
    assert page.get_attribute("#s-frames", "aria-invalid") == "true"


def test_network_failure_is_shown_in_words(lab, page_log) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page_log.allowed_console.append("net::ERR_FAILED")
    page.route("**/api/runs", lambda route: route.abort())
    page.click("#train")
    page.wait_for_selector("#errors:not([hidden])")
    assert "Cannot reach the lab server" in page.text_content("#error-list")


def test_reduced_motion_shows_the_result_without_autoplay(browser, live_server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 800}, reduced_motion="reduce")
    page = context.new_page()
    try:
        page.goto(live_server + "/")
        page.wait_for_function("() => window.__lab !== undefined")
        page.fill("#s-n", "300")
        page.fill("#s-frames", "20")
        page.select_option("#speed", "5")  # autoplay at 5 frames/s would still be running when the stream ends
        use_oracle(page, "1d-123-oracle")
        page.wait_for_function("() => !window.__lab.state.sampling.active")
        assert page.evaluate("window.__lab.player.playing") is False
        assert page.evaluate("window.__lab.frameIndex") == 19
    finally:
        context.close()
