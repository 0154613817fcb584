"""Teach by itself, live: watch the model learn, learned and exact side by side on the same noise, linked views.

Every wait is on the page's own state (window.__lab) or its plots' data, never a sleep.
"""

from __future__ import annotations

import pytest

from .conftest import fill_fields

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

RECORD_PREVIEWS = """() => {
  window.__previews = [];
  const plot = document.getElementById('preview-plot');
  new MutationObserver(() => window.__previews.push(
    [Number(plot.dataset.step), window.__lab.state.training.active])).observe(
    plot, { attributes: true, attributeFilter: ['data-step'] });
}"""


def test_the_network_x0_is_drawn_next_to_the_loss_as_it_learns(lab) -> None:  # type: ignore[no-untyped-def]
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
    # The exact denoiser has nothing to learn: no preview.
    page.check("#oracle")
    page.click("#train")
    page.wait_for_function("() => window.__lab.state.run.kind === 'oracle' && !window.__lab.state.training.active")
    assert page.is_hidden("#preview-box")
