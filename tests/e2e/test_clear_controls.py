"""What confused people on the lab page (issue 14): editing that never ended and could not be undone,
export links to an old result, errors in API words on the wrong field, keys that did nothing after
scrubbing, piles of repeated errors, and ready models that said they were training.

Every wait is on the page's own progress (window.__lab), never a sleep."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

SETTLED = ("() => window.__lab.state.sampling.result !== null && !window.__lab.state.sampling.active"
           " || window.__lab.errors().length > 0")


def settled(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(SETTLED)
    assert page.evaluate("window.__lab.errors()") == []


def open_preset(page, preset: str) -> None:  # type: ignore[no-untyped-def]
    """Choosing a ready preset (or an exact one) opens it at once: no Train press."""
    page.select_option("#preset", preset)
    page.wait_for_function("() => window.__lab.state.run !== null")
    settled(page)


def corner(page) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    box = page.locator("#main-plot .nsewdrag").first.bounding_box()
    assert box is not None
    return box["x"] + box["width"] * 0.97, box["y"] + box["height"] * 0.03


def test_editing_ends_and_an_edit_is_undone_with_its_model(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    open_preset(page, "grid25-oracle")
    run_id = page.evaluate("window.__lab.state.run.run_id")
    result_id = page.evaluate("window.__lab.state.sampling.meta.result_id")
    x, y = corner(page)

    page.click("#edit-modes")
    assert page.get_attribute("#edit-modes", "aria-pressed") == "true"
    page.mouse.click(x, y)  # empty space while editing: a new mode, and the model is set aside
    assert page.evaluate("window.__lab.state.mixture.means.length") == 26
    assert page.evaluate("window.__lab.state.run") is None
    assert not page.is_disabled("#undo-edit")

    page.keyboard.press("Control+z")  # the edit and the model it set aside come back, with the same sample
    assert page.evaluate("window.__lab.state.mixture.means.length") == 25
    assert page.input_value("#dataset") == "grid25"
    assert page.evaluate("window.__lab.state.run.run_id") == run_id
    settled(page)
    assert page.evaluate("window.__lab.state.sampling.meta.result_id") == result_id
    assert page.is_disabled("#undo-edit")

    # Two edits, undone one at a time with the button.
    page.mouse.click(x, y)
    page.mouse.click(x - 60, y + 40)
    assert page.evaluate("window.__lab.state.mixture.means.length") == 27
    page.click("#undo-edit")
    assert page.evaluate("window.__lab.state.mixture.means.length") == 26
    page.click("#undo-edit")
    assert page.evaluate("window.__lab.state.mixture.means.length") == 25
    settled(page)

    # Editing ends (Esc), and a click on the plot then inspects instead of editing.
    page.keyboard.press("Escape")
    assert page.get_attribute("#edit-modes", "aria-pressed") == "false"
    page.mouse.click(x, y)
    assert page.evaluate("window.__lab.state.mixture.means.length") == 25
    assert page.evaluate("window.__lab.state.run.run_id") == run_id

    # Training (or sampling) ends editing too.
    page.click("#edit-modes")
    page.click("#train")
    assert page.get_attribute("#edit-modes", "aria-pressed") == "false"
    settled(page)


def test_export_links_follow_the_result_on_screen(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.fill("#s-n", "300")
    open_preset(page, "1d-123-oracle")
    first = page.evaluate("window.__lab.state.sampling.meta.result_id")
    assert first in (page.get_attribute("#export-csv", "href") or "")
    page.select_option("#dataset", "1d-1245")  # a new mixture: the old result is no longer what the links give
    for link in ("#export-csv", "#export-frames", "#export-npz", "#export-config"):
        assert page.get_attribute(link, "href") is None, link
        assert page.get_attribute(link, "aria-disabled") == "true", link
    open_preset(page, "1d-1245-oracle")
    second = page.evaluate("window.__lab.state.sampling.meta.result_id")
    assert second != first
    assert second in (page.get_attribute("#export-npz", "href") or "")
    assert page.evaluate("window.__lab.state.run.run_id") in (page.get_attribute("#export-config", "href") or "")


def test_errors_use_the_page_s_words_and_outline_the_wrong_field(lab, page_log) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page_log.allowed_console.append("422")  # chromium logs the refused request itself
    # A negative σ in the 1D table: the table's own cell is named and outlined, not the hidden 2D box.
    page.select_option("#dataset", "1d-123")
    page.fill("#modes-body tr:nth-child(2) input[data-field='sigma']", "-0.1")
    page.check("#oracle")
    page.click("#train")
    page.wait_for_selector("#errors:not([hidden])")
    text = page.text_content("#error-list") or ""
    assert "σ of mode 2" in text and "greater than 0" in text, text
    assert "tuple" not in text and "data.mixture" not in text, text
    assert page.get_attribute("#modes-body tr:nth-child(2) input[data-field='sigma']", "aria-invalid") == "true"
    assert page.get_attribute("#sigma-2d", "aria-invalid") is None

    # A refused sample size names the samples field and outlines it, not the net's width.
    page.click("#error-dismiss")
    page.fill("#modes-body tr:nth-child(2) input[data-field='sigma']", "0.05")
    page.fill("#s-n", "0")
    page.click("#train")
    page.wait_for_selector("#errors:not([hidden])")
    text = page.text_content("#error-list") or ""
    assert "samples:" in text, text
    assert page.get_attribute("#s-n", "aria-invalid") == "true"
    assert page.get_attribute("#f-width", "aria-invalid") is None

    # The 2D σ box says when it refuses a value, and a repeated error counts up instead of piling up.
    page.click("#error-dismiss")
    page.select_option("#dataset", "grid25")
    sigma = page.evaluate("window.__lab.state.mixture.sigma")
    for value in ("0", "-1", "0"):
        page.fill("#sigma-2d", value)
        page.dispatch_event("#sigma-2d", "change")
    errors = page.evaluate("window.__lab.errors()")
    assert len(errors) == 2, errors
    assert errors[0].startswith("σ (all modes) must be a number greater than 0") and errors[0].endswith("(×2)"), errors
    assert page.get_attribute("#sigma-2d", "aria-invalid") == "true"
    assert page.evaluate("window.__lab.state.mixture.sigma") == sigma


def test_space_plays_after_scrubbing_and_leaves_checkboxes_alone(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.fill("#s-n", "300")
    page.select_option("#speed", "5")  # slow enough that a toggle is seen before the end
    open_preset(page, "1d-123-oracle")
    page.wait_for_function("() => !window.__lab.player.playing")
    page.focus("#time")
    page.keyboard.press("Home")  # scrub back to the start with the slider's own keys
    page.wait_for_function("() => window.__lab.frameIndex === 0")
    page.keyboard.press("Space")
    assert page.evaluate("window.__lab.player.playing") is True
    page.keyboard.press("Space")
    assert page.evaluate("window.__lab.player.playing") is False
    box = "input[data-layer='paths']"
    page.focus(box)
    page.keyboard.press("Space")
    assert page.is_checked(box)  # not toggled: space meant play
    assert page.evaluate("window.__lab.player.playing") is True
    page.keyboard.press("Space")
    # In a text field space types, as it should.
    page.focus("#s-seed")
    page.keyboard.press("Space")
    assert page.evaluate("window.__lab.player.playing") is False


def test_a_ready_model_says_it_is_ready(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.fill("#s-n", "300")
    open_preset(page, "1d-123")  # a bundled model: opened, not trained
    assert page.evaluate("window.__lab.state.run.ready") is True
    assert page.text_content("#progress-text").startswith("Ready model")
    assert "Training" not in page.evaluate("window.__lab.summaryText()")
    assert page.text_content("#train") == "Sample (model ready)"
    loss = page.evaluate("document.getElementById('loss-plot').layout.annotations?.[0]?.text ?? ''")
    assert "trained ahead of time" in loss and "waiting" not in loss, loss
    page.fill("#f-steps", "123")  # a different model: the button trains again
    assert page.text_content("#train") == "Train & sample"


@pytest.mark.parametrize("path", ["/r/0123456789abcdef", "/run/0123456789abcdef", "/run/..%2f..%2fetc",
                                  "/r/..%2fnothing"])
def test_a_dead_link_answers_a_styled_page(page, page_log, live_server: str, path: str) -> None:  # type: ignore[no-untyped-def]
    page_log.allowed_console.append("status of 404")  # chromium logs the page's own 404
    response = page.goto(live_server + path)
    assert response is not None and response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    assert page.text_content("h2") == "This link does not open anything"
    # The lab's stylesheet is applied: the masthead has its own layout, not the browser's defaults.
    assert page.evaluate("getComputedStyle(document.querySelector('.masthead')).display") != "block"
    page.click("text=Open the lab")
    page.wait_for_function("() => window.__lab !== undefined && window.__lab.opened")
    settled(page)  # the lab opens its ready default run (and the test ends with nothing in flight)


def test_an_unknown_lesson_or_run_is_said_so(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/?lesson=bogus&open=none")
    page.wait_for_function("() => window.__lab && window.__lab.opened")
    errors = page.evaluate("window.__lab.errors()")
    assert len(errors) == 1 and errors[0].startswith('No lesson "bogus"') and "1d" in errors[0], errors
    assert page.is_hidden("#lesson")
    page.goto(live_server + "/analysis?run=0123456789abcdef")
    page.wait_for_function("() => window.__analysis !== undefined")
    errors = page.evaluate("window.__analysis.errors()")
    assert len(errors) == 1 and errors[0].startswith('No finished run "0123456789abcdef"'), errors
    assert page.input_value("#run") in errors[0]


def test_training_progress_and_cancel_are_shown_in_the_centre(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.select_option("#dataset", "1d-123")
    page.fill("#f-steps", "20000")  # long enough to be seen and cancelled
    page.click("#train")
    page.wait_for_function("() => window.__lab.state.training.active && window.__lab.state.training.step > 0")
    assert page.is_visible("#stage-progress")
    box = page.locator("#stage-progress").bounding_box()
    plot = page.locator("#main-plot").bounding_box()
    assert box is not None and plot is not None
    assert box["y"] + box["height"] <= 900 and abs(box["x"] - plot["x"]) < 40  # above the fold, over the plot
    assert page.text_content("#stage-progress-text").startswith("Step ")
    page.click("#stage-cancel")
    page.wait_for_function("() => !window.__lab.state.training.active")
    assert page.evaluate("window.__lab.state.run.status") == "cancelled"
    assert page.is_hidden("#stage-progress")


def test_presenter_mode_is_readable_and_plot_first_at_1280x720(browser, live_server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        page.goto(live_server + "/?lesson=1d&presenter=1")
        page.wait_for_function("() => window.__lab && window.__lab.state.sampling.result !== null"
                               " && !window.__lab.state.sampling.active")
        assert page.is_hidden(".controls")  # the settings step aside; the plot takes their place
        plot = page.locator("#main-plot").bounding_box()
        assert plot is not None and plot["width"] >= 700, plot
        player = page.locator("#play").bounding_box()
        assert player is not None and player["y"] + player["height"] <= 720, player  # no scrolling to play
        sizes = page.evaluate("""() => Object.fromEntries(['#detector-readout', '#time-label', '#play', '#lesson-next',
            '#summary', '#lesson-text', 'label.speed'].map((s) => [s,
            parseFloat(getComputedStyle(document.querySelector(s)).fontSize)]))""")
        assert all(v >= 18 for v in sizes.values()), sizes
        fonts = page.evaluate("""() => ['main-plot', 'detector-plot', 'traj-plot'].map(
            (id) => document.getElementById(id).layout.font.size)""")
        assert all(f >= 16 for f in fonts), fonts  # tick labels and titles of every chart
        page.uncheck("#presenter")
        assert page.evaluate("document.getElementById('detector-plot').layout.font.size") == 12
        assert page.is_visible(".controls")
    finally:
        context.close()


def test_the_1d_default_shows_between_mode_samples_and_the_window_that_works(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/?hide=train&open=none")
    page.wait_for_function("() => window.__lab && window.__lab.opened")
    page.select_option("#dataset", "1d-123")  # under hidden training a dataset opens its most telling model
    settled(page)
    presets = page.evaluate("window.__lab.state.bootstrap.presets")
    chosen = next(p for p in presets if p["id"] == page.input_value("#preset"))
    ready_1d = [p for p in presets if p.get("ready") and p["config"]["data"]["dataset"] == "1d-123"
                and p["kind"] == "trained"]
    shares = [p["metrics"]["share_between_modes"] for p in ready_1d]
    assert chosen["metrics"]["share_between_modes"] == max(shares), (chosen["id"], shares)
    n_between = page.evaluate("window.__lab.state.sampling.idx.between.length")
    assert n_between > 0, page.evaluate("window.__lab.summaryText()")
    assert "needs both groups" not in page.text_content("#detector-readout")
    hint = page.text_content("#window-hint") or ""
    assert hint.startswith("On this sample, at 96% kept: K = 5 removes"), hint
    assert "K = 10 removes" in hint, hint


def test_a_phone_sees_the_plot_first_and_nothing_wider_than_the_screen(browser, live_server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        for path, ready in (("/?lesson=1d&open=none", "() => window.__lab && window.__lab.opened"),
                            ("/analysis", "() => window.__analysis !== undefined")):
            page.goto(live_server + path)
            page.wait_for_function(ready)
            wide = page.evaluate("""() => Array.from(document.querySelectorAll('select, input, .plot, .lesson'))
                .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().right > innerWidth + 1)
                .map((el) => el.id || el.className)""")
            assert wide == [], (path, wide)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        page.goto(live_server + "/?lesson=1d&open=none")
        page.wait_for_function("() => window.__lab && window.__lab.opened")
        top = page.evaluate("document.getElementById('main-plot').getBoundingClientRect().top")
        assert top < 844, top  # on the first screen, not 1,750 px down
    finally:
        context.close()


def test_the_player_row_keeps_its_layout_as_t_changes(lab) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page.fill("#s-n", "200")
    open_preset(page, "1d-123-oracle")
    page.wait_for_function("() => !window.__lab.player.playing")
    boxes = set()
    for key in ("Home", "ArrowRight", "End"):
        page.evaluate("document.activeElement.blur()")  # keys to the page, not the preset menu
        page.keyboard.press(key)
        boxes.add(tuple(page.evaluate("""() => { const r = document.getElementById('speed').getBoundingClientRect();
            const label = document.getElementById('time-label').getBoundingClientRect();
            return [Math.round(r.x), Math.round(r.y), Math.round(label.width)]; }""")))
    assert len(boxes) == 1, boxes
    # The 1D y-axis title clears every tick label.
    hits = page.evaluate("""() => {
        const box = (el) => el.getBoundingClientRect();
        const t = box(document.querySelector('#main-plot text.ytitle'));
        return Array.from(document.querySelectorAll('#main-plot g.ytick text')).map(box)
            .filter((r) => r.left < t.right && r.right > t.left && r.top < t.bottom && r.bottom > t.top).length;
    }""")
    assert hits == 0


def test_the_first_visit_never_says_training(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.add_init_script("""document.addEventListener('DOMContentLoaded', () => {
        window.__said = [];
        const el = document.getElementById('summary');
        new MutationObserver(() => window.__said.push(el.textContent)).observe(el, { childList: true });
    });""")
    page.goto(live_server + "/")
    settled(page)
    said = page.evaluate("window.__said")
    assert said and not any(s.startswith("Training") for s in said), said
    assert any(s.startswith("Opening ready model") for s in said), said
    assert page.text_content("#progress-text").startswith("Ready model")
