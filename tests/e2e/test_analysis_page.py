"""The /analysis page in a real browser: each view renders from a stored run (or a tiny job) and reacts
to its main control. Waits are on window.__analysis, never sleeps; tiny configs (1D, T ≤ 100)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi import FastAPI

from server.analysis.recursive import RECURSIVE_WINDOW
from tests.support import register_run

from .conftest import fill_fields

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture
def stored_run(live_server: str, live_app: FastAPI, tiny_checkpoint: tuple[str, Path]) -> str:
    """The tiny trained run (1d-123, T = 100) as a finished run of the live server's store."""
    return register_run(live_app.state.store, *tiny_checkpoint)


@pytest.fixture
def analysis(page, live_server: str, stored_run: str):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/analysis?run={stored_run}")
    page.wait_for_function("() => window.__analysis !== undefined && window.__analysis.mechanism.loads >= 1")
    assert page.evaluate("window.__analysis.errors()") == []
    return page


def set_range(page, selector: str, value: int) -> None:  # type: ignore[no-untyped-def]
    page.eval_on_selector(selector, "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }",
                          value)


def test_mechanism_renders_and_follows_the_t_slider(analysis, stored_run: str) -> None:  # type: ignore[no-untyped-def]
    page = analysis
    assert page.input_value("#run") == stored_run
    first = page.evaluate("window.__analysis.mechanism.shown.t")
    learned = page.evaluate("Array.from(document.getElementById('mech-denoiser').data[1].y)")
    assert len(learned) == 201
    assert page.evaluate("document.getElementById('mech-slopes').data.length") == 2
    assert page.is_hidden("#mech-2d")  # 1D run: no heatmap
    set_range(page, "#mech-t", 150)
    page.wait_for_function("() => window.__analysis.mechanism.loads >= 2")
    t = page.evaluate("window.__analysis.mechanism.shown.t")
    assert t > first
    assert f"t = {t}" in page.text_content("#mech-readout")
    moved = page.evaluate("Array.from(document.getElementById('mech-denoiser').data[1].y)")
    assert moved != learned


def test_detector_bench_window_changes_the_numbers(analysis) -> None:  # type: ignore[no-untyped-def]
    page = analysis
    page.fill("#bench-n", "400")
    page.fill("#bench-kmax", "10")
    page.click("#bench-run")
    page.wait_for_function("() => window.__analysis.bench.loads >= 1")
    rows = page.eval_on_selector_all("#bench-body tr", "rs => rs.map(r => r.dataset.detector)")
    assert rows == ["variance", "lid", "nn_distance", "oracle", "oracle_final"]
    assert page.locator("#bench-body tr.winner").count() == 1
    assert page.evaluate("document.getElementById('bench-roc').data.length") == 6  # 5 detectors + chance line

    def variance_row() -> str:
        return page.text_content("#bench-body tr[data-detector=variance]") or ""

    assert "K = 10" in variance_row()
    before = variance_row()
    expected = page.evaluate("""(() => { const r = window.__analysis.bench.report.variance_by_window['2'];
        return [r.auroc.toFixed(3), (100 * r.removed_at_96_kept).toFixed(1) + '%']; })()""")
    set_range(page, "#bench-k", 2)
    page.wait_for_function("() => document.querySelector('#bench-body tr[data-detector=variance]').textContent"
                           ".includes('K = 2')")
    after = variance_row()
    assert after != before and expected[0] in after and expected[1] in after
    assert "K = 2" in page.text_content("#bench-k-label")


def test_tiny_sweep_runs_with_progress_then_repeats_from_the_cache(analysis) -> None:  # type: ignore[no-untyped-def]
    """…and every point is a stored run: clicking its dot opens the explorer on that model."""
    page = analysis
    page.select_option("#sw-param", "steps")  # the sweep sets the steps: their box is not editable meanwhile
    assert page.is_disabled("#sw-steps") and not page.is_disabled("#sw-T")
    page.select_option("#sw-param", "n_train")
    assert not page.is_disabled("#sw-steps")
    for selector, value in {"#sw-dataset": "1d-123"}.items():
        page.select_option(selector, value)
    fill_fields(page, {"#sw-values": "100, 1000", "#sw-seeds": "0, 1", "#sw-steps": "60", "#sw-batch": "128",
                       "#sw-T": "50", "#sw-n": "200"})
    page.click("#sweep-run")
    page.wait_for_function("() => window.__analysis.sweeps.view !== null", timeout=90_000)
    assert page.evaluate("window.__analysis.sweeps.progress !== null")  # progress arrived over SSE
    assert page.get_attribute("#sweep-progress", "aria-valuenow") == "100"
    data = page.evaluate("document.getElementById('sweep-plot').data.map(t => t.error_y ? t.error_y.array : null)")
    bars = [d for d in data if d is not None]
    assert len(bars) == 1 and len(bars[0]) == 2  # mean ± std per value
    assert page.evaluate("document.getElementById('sweep-plot').data[0].x.length") == 4  # one dot per seed
    assert page.evaluate("document.getElementById('sweep-plot').data[0].text[0]") == "seed 0 · 60 training steps"
    assert "Done: 4 points" in page.text_content("#sweep-status")

    start = time.monotonic()
    page.click("#sweep-run")
    page.wait_for_function("() => window.__analysis.sweeps.runs === 2 && window.__analysis.sweeps.view !== null"
                           " && window.__analysis.sweeps.lastAccepted === 200")
    assert time.monotonic() - start < 5
    assert "nothing was trained" in page.text_content("#sweep-status")

    run_id = page.evaluate("document.getElementById('sweep-plot').data[0].customdata[0]")
    with page.expect_popup() as popup_info:
        page.evaluate("id => document.getElementById('sweep-plot').emit('plotly_click', {points: [{customdata: id}]})",
                      run_id)
    explorer = popup_info.value
    explorer.wait_for_function("id => window.__lab?.state.run?.run_id === id && window.__lab.state.run.status === "
                               "'done'", arg=run_id)
    explorer.close()


def test_tiny_recursive_run_renders_generations(analysis) -> None:  # type: ignore[no-untyped-def]
    page = analysis
    page.select_option("#rc-dataset", "1d-123")
    assert page.input_value("#rc-window") == str(RECURSIVE_WINDOW)
    fill_fields(page, {"#rc-generations": "2", "#rc-n": "200", "#rc-steps": "60", "#rc-batch": "128",
                       "#rc-T": "50", "#rc-window": "4"})
    with page.expect_request("**/api/analysis/recursive") as posted:
        page.click("#rec-run")
    assert json.loads(posted.value.post_data or "{}")["sampler"] == {"window": 4}
    page.wait_for_function("() => window.__analysis.recursive.result !== null", timeout=90_000)
    assert page.locator("#rec-scatter .plot").count() == 2  # one scatter per generation
    ranges = page.evaluate("Array.from(document.querySelectorAll('#rec-scatter .plot'), (d) => d.layout.xaxis.range)")
    assert ranges[0] == ranges[1], ranges  # one frame for every generation
    names = page.evaluate("document.getElementById('rec-share').data.map(t => t.name)")
    assert {"variance: drawn", "random: drawn"} <= set(names)
    assert page.evaluate("document.getElementById('rec-modes').data[0].z.length") == 2
    page.select_option("#rc-show", "random")
    page.wait_for_function("() => document.getElementById('rec-modes').layout.title.text.includes('random')")
    assert "Done: 2 generation(s)" in page.text_content("#rec-status")


def test_try_next_follows_the_views_in_order(analysis) -> None:  # type: ignore[no-untyped-def]
    page = analysis

    def step(key: str) -> str:
        page.wait_for_function(f"() => document.getElementById('next-step').dataset.state === '{key}'")
        return page.text_content("#next-step-text") or ""

    assert "Drag t" in step("mechanism")
    set_range(page, "#mech-t", 150)
    assert "Score detectors" in step("bench")
    page.fill("#bench-n", "200")
    page.fill("#bench-kmax", "10")
    page.click("#bench-run")
    assert "K = 5" in step("window")
    set_range(page, "#bench-k", 5)
    assert "sweep" in step("sweep")
    assert page.get_attribute("#next-step", "aria-live") == "polite"
