"""The dashboard in a real browser: Debian's Chromium driven by Playwright, no browser download.

Playwright (the ``test`` extra) is launched with ``executable_path`` set to the system's
``/usr/bin/chromium`` — ``apt-get install chromium`` — and never fetches a browser of its own.
Without it every browser test skips with one line saying how to install it; under
``BDA_REQUIRE_BROWSER=1`` (CI) that is a failure instead. Each test gets a fresh page (a fresh
browser context: its own sessionStorage) against an emulator on loopback started by the test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from emulator.serve.server import EmulatorServer
from emulator.testing import CHROMIUM, CHROMIUM_ARGS
from tests.contract.conftest import make_server  # noqa: F401 - the same factory

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REQUIRED = os.environ.get("BDA_REQUIRE_BROWSER") == "1"
VIEWPORT = {"width": 1366, "height": 900}  # a laptop screen


def unavailable() -> str:
    """Why the browser tests cannot run here, or ''."""
    if not CHROMIUM.exists():
        return (f"no Chromium at {CHROMIUM}: `apt-get install chromium` to run the dashboard's "
                "browser tests")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install -e '.[test]'"
    return ""


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium and Playwright, or a skip (under BDA_REQUIRE_BROWSER=1 a failure)."""
    why = unavailable()
    if why:
        if REQUIRED:
            pytest.fail(f"BDA_REQUIRE_BROWSER=1 but {why}", pytrace=False)
        pytest.skip(why)  # the test module skips first, in one line; this is for other users
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    """Headless Chromium for a module. Not for the session: Playwright's sync API keeps an
    event loop running in this thread while it is open, and later tests call asyncio.run()."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium),
                                             args=list(CHROMIUM_ARGS))
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser,
         make_server: Callable[..., EmulatorServer]) -> Iterator[Page]:  # noqa: F811
    """A fresh tab in its own context (closed before the test's emulators stop); every
    request it makes must stay on loopback."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text)
           if message.type == "error" else None)
    elsewhere: list[str] = []
    tab.on("request", lambda request: None if request.url.startswith(
        ("http://127.0.0.1:", "blob:", "data:")) else elsewhere.append(request.url))
    yield tab
    context.close()
    assert elsewhere == [], f"the page reached beyond the emulator: {elsewhere}"
    assert [e for e in errors if "401" not in e] == [], errors
