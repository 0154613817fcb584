"""Bundled models: checkpoints in models/ become pinned, done runs and ready presets at start."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from server.app import create_app
from server.catalog import bundled
from server.catalog import presets as catalog
from server.gaussian.config import ExperimentConfig
from server.gaussian.recipes import experiment
from server.settings import REPO_ROOT, Settings
from tests.support import TINY_CONFIG, read_events

CARD = {"experiment": "1d-123", "recipe": "cpu", "train_seconds": 1.5, "train_steps": 200, "final_loss": 0.3,
        "variance_auroc": 0.91, "share_between_modes": 0.012}


def models_dir(tmp_path: Path, tiny_checkpoint: tuple[str, Path]) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_checkpoint[1], models / "tiny.safetensors")
    (models / "tiny.json").write_text(json.dumps(CARD))
    (models / "broken.safetensors").write_bytes(b"\x00" * 100)  # logged and skipped
    shutil.copy(tiny_checkpoint[1], models / "tiny-twin.safetensors")  # same config as tiny: skipped
    shutil.copy(REPO_ROOT / "models" / "grid25-paper.safetensors", models / "badcard.safetensors")
    (models / "badcard.json").write_text("{not json")  # the model is kept, the card ignored
    return models


def test_bundled_models_are_ready_pinned_runs(tmp_path: Path, tiny_checkpoint: tuple[str, Path]) -> None:
    settings = Settings(data_dir=tmp_path / "data", models_dir=models_dir(tmp_path, tiny_checkpoint))
    run_id = ExperimentConfig.model_validate(TINY_CONFIG).run_id()
    with TestClient(create_app(settings)) as client:
        presets = {p["id"]: p for p in client.get("/api/presets").json()}
        tiny = presets["tiny"]
        assert tiny["ready"] and tiny["run_id"] == run_id and tiny["metrics"]["variance_auroc"] == 0.91
        assert tiny["title"] == "1D · modes 1, 2, 3 · trained (cpu recipe, ready)"
        assert presets["badcard"]["ready"] and presets["badcard"]["metrics"] is None
        assert "broken" not in presets and "tiny-twin" not in presets
        assert client.app.state.default_run == presets["badcard"]["run_id"]  # type: ignore[attr-defined]
        assert not presets["grid25"]["ready"] and presets["grid25"]["run_id"] is None
        run = client.get(f"/api/runs/{run_id}").json()
        assert run["status"] == "done" and run["metrics"]["train_seconds"] == 1.5 and run["metrics"]["steps"] == 200
        assert client.app.state.store.get(run_id).pinned  # type: ignore[attr-defined]
        # Posting the same config returns the bundled run at once: no training job.
        again = client.post("/api/runs", json={"config": TINY_CONFIG})
        assert again.status_code == 200 and again.json()["run_id"] == run_id and again.json()["status"] == "done"
        assert client.get("/healthz").json()["queued"] == 0
        assert read_events(client, f"/api/runs/{run_id}/sample?n=20&frames=3")[-1][0] == "done"
    with TestClient(create_app(settings)) as client:  # a restart registers them again, idempotently
        assert client.get(f"/api/runs/{run_id}").json()["status"] == "done"
        assert len([r for r in client.get("/api/runs").json() if r["run_id"] == run_id]) == 1


def test_without_bundled_grid25_the_page_opens_on_the_oracle(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "none"))) as client:
        default = client.app.state.default_run  # type: ignore[attr-defined]
        assert default == catalog.oracle_default()[0]
        run = client.get(f"/api/runs/{default}").json()
        assert run["kind"] == "oracle" and run["status"] == "done"


def test_the_repository_models_open_the_page_ready(client: TestClient) -> None:
    """models/ holds grid25-paper (and more): the default page samples it with no training wait."""
    found = {m.name: m for m in bundled.discover(REPO_ROOT / "models")}
    assert "grid25-paper" in found
    expected = bundled.default_model(list(found.values()))
    assert expected is not None and client.app.state.default_run == expected.run_id  # type: ignore[attr-defined]
    run = client.get(f"/api/runs/{expected.run_id}").json()
    assert run["status"] == "done" and run["config"]["data"]["dataset"] == "grid25"
    presets = {p["id"]: p for p in client.get("/api/presets").json()}
    ready = [p for p in presets.values() if p["run_id"] == expected.run_id]
    assert ready and ready[0]["ready"] and ready[0]["metrics"]["experiment"] == "grid25"


def test_a_bundled_preset_config_marks_that_preset_ready(tmp_path: Path) -> None:
    model = bundled.BundledModel("grid25", experiment("grid25").run_id(), experiment("grid25"),
                                 {"experiment": "grid25", "recipe": "cpu", "variance_auroc": 0.9}, tmp_path / "x")
    presets = {p.id: p for p in catalog.presets(Settings(data_dir=tmp_path), [model])}
    assert presets["grid25"].ready and presets["grid25"].run_id == model.run_id
    assert presets["grid25"].title == "2D · 5×5 grid · trained (cpu recipe, ready)"
    assert not presets["grid25-quick"].ready and "grid25-paper" not in presets


def test_an_image_checkpoint_is_passed_over(tmp_path: Path, tiny_checkpoint: tuple[str, Path]) -> None:
    """A Simple Shapes checkpoint in models/ is for the CLI: start-up neither crashes nor offers it as a preset."""
    from server.shapes.checkpoint import save_unet_checkpoint
    from server.shapes.config import ShapesConfig
    from server.shapes.unet import UNet

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_checkpoint[1], models / "tiny.safetensors")
    config = ShapesConfig.model_validate({"data": {"resolution": 32, "n": 10}, "unet": {"channels": [4, 8]}})
    save_unet_checkpoint(models / "shapes32.safetensors", UNet(config.unet, 32), config)
    assert [m.name for m in bundled.discover(models)] == ["tiny"]
    with TestClient(create_app(Settings(data_dir=tmp_path / "data", models_dir=models))) as client:
        presets = {p["id"]: p for p in client.get("/api/presets").json()}
        assert presets["tiny"]["ready"] and "shapes32" not in presets
