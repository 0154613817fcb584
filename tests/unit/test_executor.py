"""Choosing where the work runs: in-process unless a Ray address is set, and then only Ray imports ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from server.settings import Settings
from tests.support import REPO


def test_the_ray_address_setting(tmp_path: Path) -> None:
    env = {"MODELAB_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(env).ray_address is None
    assert Settings.from_env({**env, "MODELAB_RAY_ADDRESS": ""}).ray_address is None  # empty: in-process
    settings = Settings.from_env({**env, "MODELAB_RAY_ADDRESS": "10.0.0.5:6379", "MODELAB_RAY_MAX_RETRIES": "3"})
    assert settings.ray_address == "10.0.0.5:6379" and settings.ray_max_retries == 3
    with pytest.raises(ValidationError, match="ray_max_retries"):
        Settings.from_env({**env, "MODELAB_RAY_MAX_RETRIES": "11"})


def test_in_process_by_default_without_importing_ray(tmp_path: Path) -> None:
    """The embedded default: a whole app's lifespan (train, sample) never imports ray."""
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from server.app import create_app\n"
        "from server.settings import Settings\n"
        f"app = create_app(Settings(data_dir={str(tmp_path)!r}))\n"
        "with TestClient(app) as client:\n"
        "    assert app.state.executor.name == 'local'\n"
        "    body = {'kind': 'oracle', 'config': {'data': {'dataset': '1d-123'}, 'schedule': {'T': 20}}}\n"
        "    run_id = client.post('/api/runs', json=body).json()['run_id']\n"
        "    assert client.get(f'/api/runs/{run_id}/sample?n=20&frames=2').status_code == 200\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_driver_joins_a_loopback_cluster_on_its_loopback_address() -> None:
    ray_executor = pytest.importorskip("server.jobs.ray_executor")
    assert ray_executor.loopback_node_ip("127.0.0.2:6379") == "127.0.0.2"
    assert ray_executor.loopback_node_ip("[::1]:6379") == "::1"
    assert ray_executor.loopback_node_ip("10.1.2.3:6379") is None
    assert ray_executor.loopback_node_ip("head.example:6379") is None
