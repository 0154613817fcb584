"""/docs in real chromium: Swagger UI from this server (no CDN), rendering every operation, under the CSP."""

from __future__ import annotations

import httpx


def test_docs_render_offline_under_the_csp(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    response = page.goto(live_server + "/docs")
    assert "script-src 'self' 'unsafe-eval'" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock-summary", timeout=30_000)
    operations = len(httpx.get(live_server + "/openapi.json", timeout=10).json()["paths"])
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert len({p.replace("\u200b", "") for p in paths}) == operations
    # The page fixture fails the test on a console error (a CSP violation is one) or a request off 127.0.0.1.
