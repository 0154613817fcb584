"""The page teaches by itself: every control's hint shows on hover and on keyboard focus, and the
"try next" line follows the state (no sample yet, between-mode samples, a particle picked, the oracle)."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

# A sample of controls and terms on each page: element selector → words its hint must contain.
LAB_CONTROLS = {
    "#sigma-2d": "σ (sigma)",
    "#s-eta": "η (eta)",
    "#s-window": "K:",
    "#oracle": "exact (oracle) denoiser",
    "#f-T": "noise levels",
    "#threshold": "removed",
    "button.term[data-hint='auroc']": "AUROC",
    "button.term[data-hint='sixSigma']": "6σ support",
}
# On /shapes the ids the explorer also uses mean images, not points: their hints must say so.
SHAPES_CONTROLS = {
    "#dataset": "shapes",
    "#oracle": "training images",
    "#s-n": "images",
    "#s-steps": "T = 1000",
    "#quick": "DDIM",
    "#sample": "grid of images",
    "#time": "finished images",
    "#view-xt": "x_t",
    "input[name='det-source'][value='live']": "on screen",
    "#threshold": "Images whose x̂₀",
    "#predict": "labels",
    "#export-png": "PNG",
    "button.term[data-hint='duplicate']": "two shapes of one kind",
    "button.term[data-hint='trajVariance']": "Trajectory variance",
    "button.term[data-hint='imageAuroc']": "duplicates from the other images",
    "button.term[data-hint='tsne']": "t-SNE",
}
ANALYSIS_CONTROLS = {
    "#mech-t": "noise level",
    "#bench-k": "window",
    "button.term[data-hint='kept']": "96%",
}


def visible_tip_of(page, selector: str) -> str | None:  # type: ignore[no-untyped-def]
    """Text of the tooltip that `selector` describes itself by, if it is shown; None when hidden."""
    return page.evaluate(
        """(sel) => {
            const el = document.querySelector(sel);
            const ids = (el.getAttribute('aria-describedby') || '').split(/\\s+/);
            const tip = ids.map((id) => document.getElementById(id)).find((t) => t && t.classList.contains('hint-tip'));
            if (!tip || tip.hidden) return null;
            const r = tip.getBoundingClientRect();
            return r.width > 0 && r.height > 0 ? tip.textContent : null;
        }""",
        selector,
    )


def bare_controls(page, selector: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The visible controls matching `selector` that have no hint tooltip."""
    return list(page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel))
            .filter((el) => el.offsetParent !== null && el.type !== 'hidden')
            .filter((el) => !(el.getAttribute('aria-describedby') || '').split(/\\s+/)
                .some((id) => document.getElementById(id)?.classList.contains('hint-tip')))
            .map((el) => el.id || el.outerHTML.slice(0, 80))""",
        selector,
    ))


def check_hints(page, controls: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for selector, words in controls.items():
        page.eval_on_selector(selector, "(el) => el.disabled = false")  # a disabled control cannot take focus
        page.mouse.move(0, 0)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        assert visible_tip_of(page, selector) is None, selector
        page.focus(selector)
        assert words in (visible_tip_of(page, selector) or ""), (selector, "focus")
        page.evaluate("() => document.activeElement.blur()")
        assert visible_tip_of(page, selector) is None, (selector, "after blur")
        page.hover(selector)
        assert words in (visible_tip_of(page, selector) or ""), (selector, "hover")
        page.keyboard.press("Escape")
        assert visible_tip_of(page, selector) is None, (selector, "Escape dismisses")


def test_lab_controls_and_terms_show_their_hint_on_focus_and_hover(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    page.wait_for_function("() => window.__lab && window.__lab.state.opened && !window.__lab.state.sampling.active")
    check_hints(page, LAB_CONTROLS)
    # Every visible input, select and slider of the controls, player and detector has a hint.
    selector = ".controls input, .controls select, .player input, .player select, #detector-card input, .toolbar select"
    assert bare_controls(page, selector) == []
    # Every hint text is one source: no two tooltips for the same element, none empty.
    counts = page.evaluate("""() => Array.from(document.querySelectorAll('.hint-tip'), (t) => t.textContent.length)""")
    assert len(counts) >= 30 and min(counts) > 20


def test_analysis_controls_show_their_hint_on_focus_and_hover(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/analysis")
    page.wait_for_function("() => window.__analysis !== undefined")
    check_hints(page, ANALYSIS_CONTROLS)
    assert bare_controls(page, ".analysis input, .analysis select, .run-bar select") == []


def test_shapes_controls_show_their_hint_on_focus_and_hover(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/shapes#n=4&sampler=ddim&steps=20")
    page.wait_for_function("() => window.__shapes && window.__shapes.S.result !== null && !window.__shapes.S.streaming")
    page.wait_for_function("() => !window.__shapes.player.playing")
    check_hints(page, SHAPES_CONTROLS)
    parts = (".controls", ".player", "#detector-card", ".export", ".toolbar", "#map-card")
    selector = ", ".join(f"{p} {tag}" for p in parts for tag in ("input", "select", "button", "a"))
    assert bare_controls(page, selector) == []
    # No hint on this page speaks of points, particles or modes: the explorer's texts for its shared ids stay there.
    texts = page.evaluate("() => Array.from(document.querySelectorAll('.hint-tip'), (t) => t.textContent)")
    assert len(texts) >= 30 and not [t for t in texts if re.search(r"\b(particles?|modes?|mixture)\b", t)]


def wait_next(page, key: str) -> str:  # type: ignore[no-untyped-def]
    page.wait_for_function("(k) => document.getElementById('next-step').dataset.state === k", arg=key)
    return str(page.text_content("#next-step-text"))


def test_the_try_next_line_follows_the_state(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    page.wait_for_function("() => window.__lab && window.__lab.state.opened && !window.__lab.state.sampling.active"
                           " && window.__lab.state.sampling.result !== null")
    # The default view shows between-mode samples: the line points at a vermillion diamond.
    assert "vermillion diamond" in wait_next(page, "click-diamond")
    page.click("#pick-between")
    assert "threshold" in wait_next(page, "detector")
    # The exact denoiser: the comparison.
    page.select_option("#preset", "1d-123-oracle")
    page.wait_for_function("() => window.__lab.state.sampling.result !== null && !window.__lab.state.sampling.active")
    assert "never lands between modes" in wait_next(page, "oracle")
