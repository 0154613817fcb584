"""Lessons: with the default settings and the bundled models every step of every lesson is there and
ready (its run is done before anyone asks), and a step whose model is missing says so instead of vanishing."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from server.app import create_app
from server.catalog import bundled
from server.catalog import presets as catalog
from server.catalog.lessons import LESSONS, lessons_for_page, shapes_lesson
from server.settings import Settings
from tests.url_decode import decode


def _boot(page: str) -> dict:  # type: ignore[type-arg]
    return json.loads(page.split('type="application/json">')[1].split("</script>")[0])  # type: ignore[no-any-return]


def test_every_lesson_step_is_ready_with_the_default_settings(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        boot = _boot(client.get("/").text)
        by_id = {lesson["id"]: lesson for lesson in boot["lessons"]}
        assert set(by_id) == {lesson["id"] for lesson in LESSONS}
        for lesson in LESSONS:
            steps = by_id[lesson["id"]]["steps"]
            assert len(steps) == len(lesson["steps"]), lesson["id"]  # the bug: 1d showed 1 of its 4 steps
            for number, step in enumerate(steps, 1):
                assert step["problem"] is None and step["ready"], (lesson["id"], number)
                config, _, view, _, problems = decode(step["hash"])
                assert problems == [] and view["step"] == number
                # Ready means ready: posting the step's config answers an existing, finished run (200), no job.
                reply = client.post("/api/runs", json={"kind": view["kind"], "config": config.model_dump(mode="json")})
                assert reply.status_code in (200, 202) and reply.json()["status"] == "done", (lesson["id"], number)
                if view["kind"] == "trained":
                    assert reply.status_code == 200


def test_a_bundled_model_merged_into_a_preset_keeps_its_lesson_steps(tmp_path: Path) -> None:
    """The 1000-step lesson model has the quick preset's config at the default quick_steps: merged, not lost."""
    settings = Settings(data_dir=tmp_path / "data")
    models = bundled.discover(settings.models_dir)
    lesson_model = next(m for m in models if m.name == "1d-123-lesson")
    presets = catalog.presets(settings, models)
    assert "1d-123-lesson" not in {p.id for p in presets}  # merged into 1d-123-quick (same config)
    merged = next(p for p in presets if p.config == lesson_model.config)
    lessons = {lesson["id"]: lesson for lesson in lessons_for_page(presets, models)}
    hashes = [decode(s["hash"])[0] for s in lessons["1d"]["steps"][1:]]
    assert hashes == [merged.config] * 3


def test_a_step_whose_model_is_missing_stays_and_says_so(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "no-models")
    lessons = {lesson["id"]: lesson for lesson in lessons_for_page(catalog.presets(settings), [])}
    steps = lessons["1d"]["steps"]
    assert len(steps) == 4
    assert steps[0]["ready"] and steps[0]["problem"] is None  # the exact denoiser needs no file
    assert all(s["hash"] is None and not s["ready"] and "1d-123-lesson" in s["problem"] for s in steps[1:])


def test_the_shapes_lesson_is_hashes_of_the_shapes_page() -> None:
    lesson = shapes_lesson()
    assert lesson["page"] == "/shapes" and lesson["steps"][0]["predict"]  # predict first, then the reveal
    keys = {"n", "seed", "sampler", "eta", "steps", "window", "oracle", "frame", "sel", "thr", "xt", "step"}
    for number, step in enumerate(lesson["steps"], 1):
        pairs = dict(part.split("=") for part in step["hash"].split("&"))
        assert set(pairs) <= keys and pairs["step"] == str(number), step  # keys static/js/shapes/address.js reads
        assert step["ready"] and step["problem"] is None
    assert any(step["hash"].startswith("oracle=1") for step in lesson["steps"])  # the exact denoiser's turn
