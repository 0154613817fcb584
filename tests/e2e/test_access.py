"""The page on a lab with a shared token or in read-only mode (README, "Deploying"): a refused request is
explained in the banner, and the token, pasted once, is sent with what follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings

TOKEN = "teacher-token-2026"


@pytest.fixture
def live_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return Settings(data_dir=tmp_path / "live-data", quick_steps=200, quick_batch=256, progress_interval=0.05,
                    **request.param)


def start_training(page) -> None:  # type: ignore[no-untyped-def]
    page.select_option("#dataset", "1d-123")
    page.fill("#f-steps", "20000")
    page.fill("#f-batch", "64")
    page.click("#train")


@pytest.mark.parametrize("live_settings", [{"token": TOKEN}], indirect=True)
def test_the_token_is_asked_once_and_sent(lab, page_log) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page_log.allowed_console.append("401")  # chromium logs the refused request itself
    prompts: list[str] = []

    def answer(dialog) -> None:  # type: ignore[no-untyped-def]
        prompts.append(dialog.message)
        dialog.accept(TOKEN)

    page.on("dialog", answer)
    start_training(page)
    page.wait_for_function("() => /^Step /.test(document.getElementById('progress-text').textContent)")
    page.click("#cancel")  # a DELETE: sent with the stored token, no second prompt
    page.wait_for_function("() => document.getElementById('progress-text').textContent === 'Training cancelled.'")
    assert len(prompts) == 1 and "token" in prompts[0]
    assert page.evaluate("() => sessionStorage.getItem('modelab-token')") == TOKEN
    assert page.evaluate("() => window.__lab.errors()") == []


@pytest.mark.parametrize("live_settings", [{"token": TOKEN}], indirect=True)
def test_no_token_is_explained(lab, page_log) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page_log.allowed_console.append("401")
    page.on("dialog", lambda dialog: dialog.dismiss())
    start_training(page)
    page.wait_for_selector("#errors:not([hidden])")
    assert "Token needed" in page.text_content("#error-list")


@pytest.mark.parametrize("live_settings", [{"read_only": True}], indirect=True)
def test_read_only_is_explained(lab, page_log) -> None:  # type: ignore[no-untyped-def]
    page = lab
    page_log.allowed_console.append("403")
    start_training(page)
    page.wait_for_selector("#errors:not([hidden])")
    assert "read-only" in page.text_content("#error-list")
