"""Share and teach: links that restore the view, permalinks that replay, lessons, classroom flags.

Every wait is on the page's own progress (window.__lab), never a sleep."""

from __future__ import annotations

import json
import urllib.request

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]

FINISHED = ("() => window.__lab && window.__lab.opened && window.__lab.state.sampling.result !== null"
            " && !window.__lab.state.sampling.active && window.__lab.state.opened || window.__lab?.errors().length > 0")
NUMBERS = ("({summary: window.__lab.summaryText(), detector: window.__lab.detectorText(),"
           " frame: window.__lab.frameIndex, selected: window.__lab.state.selected,"
           " threshold: window.__lab.state.threshold, traj: document.getElementById('traj-info').textContent,"
           " time: document.getElementById('time-label').textContent})")
LESSON_1D = "1d-123"


def health(base: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(base + "/healthz") as r:
        return json.load(r)  # type: ignore[no-any-return]


def finished(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(FINISHED)
    page.wait_for_function("() => !window.__lab.player.playing")


def test_opens_ready_on_the_default_run_and_a_copied_link_restores_the_view(
        page, browser, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/?lesson=variance")  # 1d-123 paper model: small and quick
    finished(page)
    assert page.evaluate("window.__lab.errors()") == []
    assert page.evaluate("window.__lab.state.run.status") == "done"  # bundled: no training wait
    # Move the view: a frame, a particle, a threshold.
    page.evaluate("window.__lab.player.pause(); window.__lab.player.seek(42)")
    page.click("#pick-between")
    page.eval_on_selector("#threshold", "el => { el.value = String(Number(el.min) * 0.5 + Number(el.max) * 0.5);"
                                        " el.dispatchEvent(new Event('input')); }")
    before = page.evaluate(NUMBERS)
    page.click("#copy-link")
    link = page.input_value("#share-url")
    assert "t=42" in link and "p=" in link and "th=" in link and "r=" in link, link
    started = health(live_server)["computations_started"]

    other = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    other.goto(link)
    finished(other)
    other.wait_for_function("() => window.__lab.state.selected !== null")
    assert other.evaluate("window.__lab.errors()") == []
    after = other.evaluate(NUMBERS)
    assert after == before
    assert health(live_server)["computations_started"] == started  # replayed from the result id
    other.context.close()


def test_permalink_replays_with_identical_numbers_and_no_computation(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    lab = page
    lab.goto(live_server + "/")
    finished(lab)  # opens ready on the default (bundled grid25) run, sampled once
    meta = lab.evaluate("window.__lab.state.sampling.meta")
    summary = lab.evaluate("window.__lab.summaryText()")
    detector = lab.evaluate("window.__lab.detectorText()")
    started = health(live_server)["computations_started"]
    lab.goto(f"{live_server}/r/{meta['result_id']}")
    finished(lab)
    assert lab.evaluate("window.__lab.errors()") == []
    assert lab.evaluate("window.__lab.summaryText()") == summary
    assert lab.evaluate("window.__lab.detectorText()") == detector
    assert lab.evaluate("window.__lab.state.sampling.meta.result_id") == meta["result_id"]
    assert health(live_server)["computations_started"] == started
    assert lab.get_attribute("#export-npz", "href") == f"/api/results/{meta['result_id']}/export.npz"


def test_lesson_link_shows_its_first_step_with_controls_hidden_and_predict_then_reveal(
        page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/?lesson=1d")
    finished(page)
    assert page.is_visible("#lesson")
    assert "step 1 of 4" in page.text_content("#lesson-count")
    assert "exact denoiser" in page.text_content("#lesson-text")
    assert page.is_hidden("#train") and page.is_hidden("#editor-1d")  # hide=editor,train from the lesson
    assert page.is_visible("#dataset")
    assert page.evaluate("window.__lab.state.run.kind") == "oracle"
    # Step 2: predict first: no highlighting until the reveal.
    page.click("#lesson-next")
    # state.run is null for a moment while the step swaps the mixture: poll null-safely.
    page.wait_for_function("() => window.__lab.state.run?.kind === 'trained'")
    finished(page)
    names = "document.getElementById('main-plot').data.map(t => t.name)"
    assert not any(n.startswith("between modes (") for n in page.evaluate(names))
    assert page.is_visible("#reveal") and "Predict" in page.evaluate("window.__lab.summaryText()")
    page.click("#reveal")
    page.wait_for_function(f"() => {names}.some(n => n.startsWith('between modes ('))")
    assert "landed between modes" in page.evaluate("window.__lab.summaryText()")
    assert page.is_hidden("#reveal")


def test_invalid_hash_values_show_a_message_and_presenter_mode_toggles(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/?lesson=1d&presenter=1#d=1d-123&k=oracle&n=abc&t=-4&zzz=1&step=1")
    page.wait_for_function("() => window.__lab && window.__lab.errors().length > 0")
    errors = " ".join(page.evaluate("window.__lab.errors()"))
    assert "sampler.n" in errors and "view.frame" in errors and "zzz" not in errors
    assert page.evaluate("document.body.classList.contains('presenter')")
    assert page.is_checked("#presenter")
    page.uncheck("#presenter")
    assert not page.evaluate("document.body.classList.contains('presenter')")
    page.check("#presenter")
    assert page.evaluate("document.body.classList.contains('presenter')")
