"""What breaks a lesson in class (issue 14): lost steps, hidden panels that keep their space, a mode bar
that uploads to the cloud, dead ends under hidden training, and links that start long training unasked.

Every wait is on the page's own progress (window.__lab), never a sleep. The server runs with the
default quick preset (1000 steps), so the bundled 1000-step lesson model is merged into that preset,
which is what used to drop the lesson's steps."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from server.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

FINISHED = ("() => window.__lab && window.__lab.opened && window.__lab.state.sampling.result !== null"
            " && !window.__lab.state.sampling.active && window.__lab.state.opened || window.__lab?.errors().length > 0")
LOOPBACK = ("127.0.0.1", "localhost")


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "live-data", progress_interval=0.05)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url) as r:
        return json.load(r)


def finished(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(FINISHED)
    page.wait_for_function("() => !window.__lab.player.playing")
    assert page.evaluate("window.__lab.errors()") == []


def run_ids(base: str) -> set[str]:
    return {r["run_id"] for r in get_json(base + "/api/runs")}


def no_training(base: str) -> None:
    health = get_json(base + "/healthz")
    assert (health["queued"], health["running"]) == (0, 0), health


def test_walking_a_lesson_shows_every_step_ready(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    boot_lessons = None
    for lesson_id in ("1d", "variance", "grids"):
        page.goto(f"{live_server}/?lesson={lesson_id}&open=none")
        page.wait_for_function("() => window.__lab !== undefined")
        boot_lessons = page.evaluate("window.__lab.state.bootstrap.lessons")
        steps = next(lesson["steps"] for lesson in boot_lessons if lesson["id"] == lesson_id)
        assert len(steps) == 4 and all(s["ready"] and s["hash"] for s in steps), lesson_id
        assert page.text_content("#lesson-count").endswith("of 4")
    page.goto(live_server + "/?lesson=1d")
    for number in range(1, 5):
        if number > 1:
            page.click("#lesson-next")
            page.wait_for_function(f"() => window.__lab.state.lessonStep === {number}"
                                   " && window.__lab.state.run !== null")
        finished(page)
        assert page.text_content("#lesson-count") == f"step {number} of 4"
        assert page.evaluate("window.__lab.state.run.status") == "done"
        assert page.evaluate("window.__lab.state.run.kind") == ("oracle" if number == 1 else "trained")
        no_training(live_server)  # every step is a bundled model or the exact denoiser
    assert page.is_disabled("#lesson-next")
    assert page.input_value("#s-sampler") == "ddim"  # step 4 is DDIM


@pytest.mark.parametrize(("hide", "min_width"), [("controls", 900), ("controls,detector,trajectory", 1300),
                                                 ("detector,trajectory", 980)])
def test_hidden_panels_give_their_space_to_the_plot(page, live_server: str, hide: str, min_width: int) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/?open=none")
    page.wait_for_function("() => window.__lab && window.__lab.opened")
    full = page.evaluate("document.getElementById('main-plot').getBoundingClientRect().width")
    page.goto(f"{live_server}/?open=none&hide={hide}")
    page.wait_for_function("() => window.__lab && window.__lab.opened")
    width = page.evaluate("document.getElementById('main-plot').getBoundingClientRect().width")
    assert full < 700  # the three-column layout at 1400 px
    assert width >= min_width, (hide, full, width)  # was squeezed into the 300 px first column


def _plot_configs(page):  # type: ignore[no-untyped-def]
    return page.evaluate("""Array.from(document.querySelectorAll('.js-plotly-plot'), (d) => ({
        id: d.id, cloud: d._context.showSendToCloud, server: d._context.plotlyServerURL,
        logo: d._context.displaylogo,
        buttons: Array.from(d.querySelectorAll('.modebar-btn'), (b) => (b.getAttribute('data-title') || '')
                            + ' ' + (b.getAttribute('data-attr') || '') + ' ' + (b.getAttribute('data-val') || '')),
        links: Array.from(d.querySelectorAll('a[href]'), (a) => a.href)}))""")


def test_no_plot_offers_a_cloud_upload_or_an_outside_link(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    finished(page)
    page.hover("#main-plot")
    lab_plots = _plot_configs(page)
    page.goto(live_server + "/analysis")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 3")
    analysis_plots = _plot_configs(page)
    assert {p["id"] for p in lab_plots} >= {"main-plot", "detector-plot", "traj-plot", "loss-plot"}
    main = next(p for p in lab_plots if p["id"] == "main-plot")
    assert any("Download plot" in b for b in main["buttons"])  # the mode bar is there, only without the cloud
    for plot in lab_plots + analysis_plots:
        assert plot["cloud"] is False and plot["server"] == "" and plot["logo"] is False, plot
        assert not any(w in b.lower() for b in plot["buttons"] for w in ("share", "cloud", "studio")), plot
        assert all(urlparse(href).hostname in LOOPBACK for href in plot["links"]), plot
    # and (page fixture) no request left 127.0.0.1


def test_hidden_training_leaves_no_dead_end(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/?hide=train,editor")
    finished(page)
    offered = page.evaluate("Array.from(document.querySelectorAll('#preset option'), (o) => o.value).filter(Boolean)")
    presets = {p["id"]: p for p in page.evaluate("window.__lab.state.bootstrap.presets")}
    assert offered and all(presets[i]["ready"] or presets[i]["kind"] == "oracle" for i in offered)
    assert len(offered) < len(presets)  # the untrained quick and CPU presets are not offered

    def sampled_again() -> None:
        page.wait_for_function("() => window.__lab.state.run !== null && window.__lab.state.run.status === 'done'"
                               " && window.__lab.state.sampling.result !== null")
        finished(page)
        assert page.is_enabled("#sample")
        assert "train" not in page.evaluate("window.__lab.summaryText()").lower()
        no_training(live_server)

    for dataset in ("1d-1245", "custom"):
        page.select_option("#dataset", dataset)
        sampled_again()
    assert page.evaluate("window.__lab.state.run.kind") == "oracle"  # custom: only the exact model samples at once
    page.select_option("#preset", offered[-1])
    sampled_again()
    page.click("#sample")
    sampled_again()


def test_a_link_to_an_untrained_model_asks_before_training(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    bundled = run_ids(live_server)
    page.goto(live_server + "/#d=1d-123&w=24&st=40&bs=64&T=50&n=300&fr=10")
    page.wait_for_function("() => window.__lab && window.__lab.opened")
    page.wait_for_selector("#confirm-train:not([hidden])")
    text = page.text_content("#confirm-text")
    assert "40 training steps" in text and "about" in text and "Nothing has started" in text
    assert "about" in page.text_content("#confirm-yes")
    no_training(live_server)
    assert run_ids(live_server) == bundled  # not even queued
    assert page.evaluate("window.__lab.state.run") is None
    page.click("#confirm-yes")
    page.wait_for_function("() => window.__lab.state.run?.kind === 'trained'")
    finished(page)
    assert page.is_hidden("#confirm-train")
    assert page.evaluate("window.__lab.state.run.status") == "done"
    runs = [r for r in get_json(live_server + "/api/runs") if r["run_id"] not in bundled]
    assert [r["config"]["train"]["steps"] for r in runs] == [40]


def test_declining_a_link_s_training_starts_nothing(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    bundled = run_ids(live_server)
    page.goto(live_server + "/?hide=train,editor#d=grid25&w=256&n=2000")
    page.wait_for_selector("#confirm-train:not([hidden])")
    assert "min" in page.text_content("#confirm-text")  # 3000 steps of a width-256 net: minutes, said so
    page.click("#confirm-no")
    assert page.is_hidden("#confirm-train")
    no_training(live_server)
    assert run_ids(live_server) == bundled
    page.goto("about:blank")  # the same address again: a new page load, not a hash change
    page.goto(live_server + "/?hide=train,editor#d=grid25&w=256&n=2000")
    page.wait_for_selector("#confirm-train:not([hidden])")
    page.click("#confirm-oracle")  # with training hidden, the exact denoiser is still one click away
    finished(page)
    assert page.evaluate("window.__lab.state.run.kind") == "oracle"
    no_training(live_server)
