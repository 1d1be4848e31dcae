"""Every page each role can reach, on a 390 px phone over the demo's books: nothing wider than the screen, no
figure spilling out of its card, and axe-core finds no violation. The pages are found by following the links
from the home page (GET only), so a new page is covered as soon as something links to it."""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import axe_violations, sign_in_as

#: Links not to follow: downloads, pictures, leaving the session, and pages of the same kind as one already seen.
SKIP = (".pdf", ".csv", ".svg", ".json", ".txt", ".zip", ".beancount", "/logout", "/healthz")
MOST_PAGES = 45
#: Set to a folder to keep a full-page screenshot of every page crawled, to look at (not asserted on).
SHOTS = os.environ.get("FUNDAPP_SCREENSHOTS", "")

#: Measured against the phone's own width: on a mobile viewport, content wider than the screen widens
#: window.innerWidth with it, so that would never see an overflow.
OVERFLOW = """(width) => {
  const found = [];
  if (document.documentElement.scrollWidth > width) found.push('page ' + document.documentElement.scrollWidth);
  for (const el of document.querySelectorAll('.stats li, .card, .flash, td, th, h1, h2, p, li, dd')) {
    const box = el.getBoundingClientRect();
    // the stacked tables' headers are hidden on a phone (each cell carries its own label)
    if (box.width === 0 || (el.closest('thead') && el.closest('table.audit'))) continue;
    if (box.right > width + 1) found.push(el.tagName + '.' + el.className + ' ends at ' + Math.round(box.right) + ': ' + el.textContent.trim().slice(0, 30));
    if (el.closest('.table-wrap')) continue;  // a wide table scrolls inside its own box, on purpose
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible')
      found.push(el.tagName + '.' + el.className + ' spills ' + (el.scrollWidth - el.clientWidth) + 'px: '
                 + el.textContent.trim().slice(0, 40));
  }
  return found;
}"""


def kind_of(path: str) -> str:
    """/review/31 and /review/32 are the same page: one of each is enough."""
    return "/".join("#" if part.isdigit() else part for part in path.split("/"))


def crawl(page, base: str, label: str = "") -> dict[str, list[str]]:
    problems, seen, queue = {}, set(), ["/"]
    while queue and len(seen) < MOST_PAGES:
        path = queue.pop(0)
        if kind_of(path) in seen:
            continue
        seen.add(kind_of(path))
        response = page.goto(base + path)
        if response is None or response.status >= 400 or not response.headers.get("content-type", "").startswith(
                "text/html"):
            continue
        found = page.evaluate(OVERFLOW, page.viewport_size["width"]) + axe_violations(page)
        if SHOTS:
            name = re.sub(r"[^a-z0-9]+", "-", kind_of(path).replace("#", "n").lower()).strip("-") or "home"
            page.screenshot(path=str(Path(SHOTS) / f"{label}-{name}.png"), full_page=True)
        if found:
            problems[path] = found
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/") or parts.path.endswith(SKIP) or \
                    any(skip in parts.path for skip in SKIP):
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return problems


@pytest.mark.parametrize("role", ["visitor", "member", "trustee", "treasurer"])
def test_every_page_fits_a_phone(live_server, phone, demo_fund, localstripe, role):
    if role != "visitor":
        sign_in_as(phone, live_server, demo_fund[role])
    problems = crawl(phone, live_server, f"phone-{role}")
    assert problems == {}, "\n".join(f"{path}: {found[:4]}" for path, found in problems.items())
    # /apply answers 409 to a member whose application is still being decided, by design
    assert [p for p in phone.problems if "status of 409" not in p] == []
