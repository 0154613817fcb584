"""axe-core on both pages, in the state people see them in: no serious or critical violation.

axe-core comes from the npm registry (pinned, installed into .axe/ by .ci/run) and is read from disk into
the page: no CDN, no request at all. Without it the test skips locally and fails under CI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

AXE = Path(os.environ.get("MODELAB_AXE", Path(__file__).resolve().parents[2] / ".axe/node_modules/axe-core/axe.min.js"))
SEVERE = {"serious", "critical"}


def axe_violations(page) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"axe-core is missing at {AXE} (.ci/run installs it)")
        pytest.skip(f"axe-core not installed at {AXE} (npm install --prefix .axe axe-core)")
    # Through the protocol, as a function: the page's Content-Security-Policy refuses an injected inline script.
    page.evaluate(f"() => {{ {AXE.read_text()}\n }}")
    found = page.evaluate("""async () => {
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                                          nodes: v.nodes.map((n) => n.target.join(' ')) }));
    }""")
    return list(found)


def severe(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in found if v["impact"] in SEVERE]


def assert_accessible(found: list[dict[str, Any]]) -> None:
    """No serious or critical violation, and no region outside a landmark ("moderate", but our pages have none)."""
    assert severe(found) == [], severe(found)
    assert [v for v in found if v["id"] == "region"] == [], found


def test_the_lab_page_has_no_serious_accessibility_violation(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    page.wait_for_function("() => window.__lab && window.__lab.state.sampling.result !== null"
                           " && !window.__lab.state.sampling.active")
    page.wait_for_function("() => !window.__lab.player.playing")
    assert_accessible(axe_violations(page))


def test_the_analysis_page_has_no_serious_accessibility_violation(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/analysis")
    page.wait_for_function("() => window.__analysis !== undefined")
    assert_accessible(axe_violations(page))


def test_the_shapes_page_has_no_serious_accessibility_violation(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/shapes#n=4&sampler=ddim&steps=20")
    page.wait_for_function("() => window.__shapes && window.__shapes.S.result !== null && !window.__shapes.S.streaming")
    page.wait_for_function("() => !window.__shapes.player.playing")
    page.click('#grid-cells .cell[data-image="0"]')  # the film strip open too
    assert_accessible(axe_violations(page))
