"""Browser fixtures (the app itself is served by ``live_server`` in tests/conftest.py):
Debian's Chromium driven by Playwright (never a downloaded browser)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed for browser tests: apt-get install chromium"
    assert AXE.exists(), "axe-core is needed for browser tests: npm install (see Makefile)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone(browser):
    """A phone-sized page; records CSP violations and script errors."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1,
                                  is_mobile=True, has_touch=True, locale="en-US")
    page = context.new_page()
    page.problems = []
    # A form sent back with its errors answers 422 on purpose; anything else logged as an error counts.
    page.on("console", lambda m: page.problems.append(m.text)
            if m.type == "error" and "status of 422" not in m.text else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    yield page
    context.close()


def axe_violations(page) -> list[str]:
    """Run axe-core (WCAG 2.1 A and AA) on the page; return the violations found."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;0")  # evaluated by the driver, so our CSP does not block it
    result = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})")
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in result["violations"]]


def sign_in_as(page, base: str, email: str) -> None:
    """Sign in in the browser; trustees and the treasurer then type their authenticator app's code."""
    from tests.conftest import PASSWORD, authenticator_code

    page.goto(base + "/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if page.url.endswith("/login/code"):
        page.get_by_label("Code").fill(authenticator_code(email))
        page.get_by_role("button", name="Continue").click()
