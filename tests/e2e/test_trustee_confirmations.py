"""Trustees in the browser see what waits for them and confirm before money moves; the About page reads well on a
phone in both languages. axe-core finds nothing on each page, and no page is wider than the phone."""
from __future__ import annotations

from playwright.sync_api import expect

from fundapp.applications.models import Application
from fundapp.applications.states import Status
from fundapp.extensions import db
from fundapp.review import services as review
from tests.conftest import wait_for
from tests.e2e.conftest import axe_violations, sign_in_as
from tests.e2e.helpers import shot
from tests.factories import fund_with, submitted_case


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_a_trustee_sees_the_approval_count_and_confirms_a_batch(live_server, phone, fund, create_user):
    fund_with(fund, 500_000)
    tom = create_user("tom@example.org", "trustee", name="Tom Trustee")
    create_user("tina@example.org", "trustee", name="Tina Trustee")
    large = submitted_case(fund, create_user("s1@example.org", "applicant"), 1, 70_000, first_name="Ana")
    small = submitted_case(fund, create_user("s2@example.org", "applicant"), 2, 12_000, first_name="Leo")
    review.approve(fund, large, 70_000, actor=tom)
    review.approve(fund, small, 12_000, actor=tom)
    db.session.commit()

    page = phone
    sign_in_as(page, live_server, "tina@example.org")
    page.goto(live_server + "/review/")
    expect(page.get_by_text("1 of 2 approvals")).to_be_visible()
    expect(page.get_by_text("waiting for you")).to_be_visible()
    assert axe_violations(page) == [] and fits(page)
    shot(page, "50-queue-approvals")
    page.goto(f"{live_server}/review/{large.id}")
    expect(page.get_by_text("This amount needs the approval of 2 trustees; 1 so far.")).to_be_visible()

    page.goto(live_server + "/review/payments")
    page.get_by_label("First cheque number (the next ones count up) or reference").fill("3001")
    page.get_by_role("button", name="Mark them all paid…").click()
    expect(page.get_by_text("Record 1 payment of $120.00 in all, by Cheque")).to_be_visible()
    assert axe_violations(page) == [] and fits(page)
    shot(page, "51-confirm-batch")
    assert db.session.get(Application, small.id).amount_paid_cents == 0
    page.get_by_role("button", name="Mark them all paid").click()
    expect(page.get_by_text("1 payment recorded.")).to_be_visible()
    assert wait_for(lambda: db.session.get(Application, small.id).status == Status.PAID)
    assert page.problems == []


def test_the_about_page_on_a_phone_in_spanish(live_server, phone, fund, create_user):
    create_user("tom@example.org", "trustee", name="Tom Trustee")
    page = phone
    page.goto(live_server + "/")
    page.get_by_role("link", name="About the fund").click()
    expect(page.get_by_role("heading", name="The rules, in plain words")).to_be_visible()
    assert axe_violations(page) == [] and fits(page)
    page.get_by_role("button", name="Español").click()
    expect(page.get_by_role("heading", name="Las reglas, en palabras sencillas")).to_be_visible()
    assert axe_violations(page) == [] and fits(page)
    shot(page, "52-about-es")
    assert page.problems == []


def test_chart_text_is_at_least_12_px_on_a_phone(live_server, phone, demo_fund):
    import re
    import urllib.request

    page = phone
    sign_in_as(page, live_server, demo_fund["trustee"])
    for path in ("/review/dashboard", "/transparency"):
        page.goto(live_server + path)
        pictures = page.eval_on_selector_all(
            "figure.chart img", "imgs => imgs.map(i => [i.currentSrc, i.clientWidth])")
        assert pictures, path
        for src, shown_width in pictures:
            assert src.endswith("?size=phone"), src  # the phone's drawing, not the desktop's shrunk
            cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
            request = urllib.request.Request(src, headers={"Cookie": cookies})
            svg = urllib.request.urlopen(request, timeout=10).read().decode()  # noqa: S310 - loopback only
            drawn_width = float(re.search(r'<svg[^>]* width="([\d.]+)', svg).group(1))
            smallest = min(float(size) for size in re.findall(r'font-size="([\d.]+)(?:px)?"', svg))
            assert smallest * shown_width / drawn_width >= 12, (src, smallest, shown_width, drawn_width)
    assert fits(page)
