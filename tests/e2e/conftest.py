"""Browser fixtures: one headless Debian chromium per session, a fresh page per test that records
console errors and every request (the lab must work offline: nothing may leave 127.0.0.1).

The server is the shared ``live_server`` fixture (tests/conftest.py): a real uvicorn on loopback.
Never ``playwright install``: the browser is the system chromium, and the tests skip without it.
``wait_for_function`` predicates are arrow functions (``"() => ..."``): Playwright polls a bare expression
with ``eval``, which the pages' Content-Security-Policy refuses, while a function goes through the protocol.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "e2e"


def launch_chromium(playwright):  # type: ignore[no-untyped-def]
    """Headless Debian chromium with the flags that keep it off the network (shared with the bench)."""
    return playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)


@dataclass
class PageLog:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    allowed_console: list[str] = field(default_factory=list)  # substrings a test expects (e.g. a 422 load)

    def unexpected_errors(self) -> list[str]:
        errors = [e for e in self.console_errors if not any(a in e for a in self.allowed_console)]
        return errors + self.page_errors


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if shutil.which("chromium") is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser, page_log: PageLog, request: pytest.FixtureRequest) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(60_000)

    def on_console(msg) -> None:  # type: ignore[no-untyped-def]
        if msg.type == "error":
            page_log.console_errors.append(msg.text)

    def on_request(req) -> None:  # type: ignore[no-untyped-def]
        url = urlparse(req.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if url.hostname not in LOCAL_HOSTS:
            page_log.foreign_requests.append(req.url)

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: page_log.page_errors.append(str(exc)))
    pg.on("request", on_request)
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()
    assert page_log.foreign_requests == [], f"requests left localhost: {page_log.foreign_requests}"
    assert page_log.unexpected_errors() == [], f"console errors: {page_log.unexpected_errors()}"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """Keep each phase's report on the item so the page fixture can screenshot failures."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def lab(page, live_server: str):  # type: ignore[no-untyped-def]
    """The lab page, loaded and initialised, without opening the default run (``?open=none``): each test
    asks for its own run, and a test that wants the ready default run opens ``/`` itself."""
    page.goto(live_server + "/?open=none")
    page.wait_for_function("() => window.__lab !== undefined && document.querySelectorAll('#dataset option').length > 0"
                           " && window.__lab.opened")
    return page


def fill_fields(page, values: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Type each value into the input named by its selector."""
    for selector, value in values.items():
        page.fill(selector, value)
