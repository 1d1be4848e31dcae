"""Each kind of mail, read from a real SMTP server and followed in Chromium: it has a text and an HTML part,
its link is absolute (``BASE_URL``), the HTML button leads where the text's link does, and the page it opens is
the right one for the reader (signed in where the page needs it), in English and in Spanish.

Mails with no page to act on (the audit trail's anchor line to keep, the notice that an authenticator app was
connected) are not here: they have no link to follow."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from playwright.sync_api import expect

from fundapp.accounts import membership as roster_service
from fundapp.accounts import services as accounts
from fundapp.applications.models import Application
from fundapp.applications.services import notify_member
from fundapp.donations.models import Donation, DonationStatus
from fundapp.donations.receipts import send_statement
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.mail import answer_requests
from fundapp.review import services as review
from tests.accounts.test_roster import GOOD
from tests.conftest import sign_in, wait_for
from tests.donations.test_webhook import pay, pending_gift
from tests.e2e.conftest import sign_in_as
from tests.factories import fund_with, submitted_case


@pytest.fixture
def base(app, live_server):
    """Mail links point at the served app (``app`` puts the configuration back after the test)."""
    app.config["BASE_URL"] = live_server
    return live_server


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    yield page
    context.close()


class _Buttons(HTMLParser):
    def __init__(self, html):
        super().__init__()
        self.buttons = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("class") == "action":
            self.buttons.append(attrs["href"])


def read_mail(smtp, to: str, subject: str):
    """The newest message to ``to`` whose subject holds ``subject``, after the worker's turn."""
    def arrived():
        answer_requests()  # requests (reset, donor link) become mail first, as the worker does
        return [m for m in smtp.messages if m["To"] == to and subject in m["Subject"]]

    found = wait_for(arrived)  # a worker thread (with localstripe) may be sending it meanwhile
    assert found, [(m["To"], m["Subject"]) for m in smtp.messages]
    return found[-1]


def parts(mail) -> tuple[str, str]:
    """(text, html) of a message that has both, the text first (in multipart/alternative)."""
    alternative = mail if mail.get_content_type() == "multipart/alternative" else mail.get_payload()[0]
    assert alternative.get_content_type() == "multipart/alternative", mail.get_content_type()
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    text, html = (p.get_content() for p in alternative.get_payload())
    return text.replace("\r\n", "\n"), html


def the_link(mail, base: str) -> tuple[str, str, str]:
    """(text, html, link): the text's link to act on (its first), absolute on ``BASE_URL``, the HTML's button."""
    text, html = parts(mail)
    link = re.search(r"https?://\S+", text).group(0).rstrip(".,;:)")
    assert link.startswith(base + "/"), link
    assert _Buttons(html).buttons == [link]
    return text, html, link


def follow(page, link: str):
    """Open the mail's link; the page must answer (no 404 or 500 on the way)."""
    statuses = []
    page.on("response", lambda r: statuses.append((r.status, r.url)) if r.request.is_navigation_request() else None)
    response = page.goto(link)
    assert response is not None and response.status < 400, (response and response.status, link)
    assert all(status < 400 for status, _url in statuses), statuses
    return response


def test_account_mails_lead_to_their_pages(app, base, browser, desktop, fund, create_user, smtp):
    page = desktop
    create_user("ana@example.org", "applicant", name="Ana Applicant")
    create_user("tess@example.org", "treasurer", name="Tess Treasurer")

    # A password reset asked for on the page, in English
    page.goto(base + "/reset")
    page.get_by_label("Email address").fill("ana@example.org")
    page.get_by_role("button", name="Send me a link").click()
    text, html, link = the_link(read_mail(smtp, "ana@example.org", "Reset your password"), base)
    assert "/reset/" in link and 'lang="en"' in html
    follow(page, link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    expect(page.get_by_label("New password", exact=True)).to_be_visible()

    # A new staff member's welcome, in Spanish (the language the treasurer chose for them)
    treasurer = app.test_client()
    sign_in(treasurer, "tess@example.org")
    treasurer.post("/admin/users/new", data={"email": "tom@example.org", "name": "Tomás", "roles": ["trustee"],
                                             "language": "es"})
    text, html, link = the_link(read_mail(smtp, "tom@example.org", ""), base)
    assert "/reset/" in link and 'lang="es"' in html and "Abrir esta página" in html and "Tomás" in text
    spanish = browser.new_context(viewport={"width": 390, "height": 844}, locale="es-US").new_page()
    follow(spanish, link)  # opened in the reader's browser, which asks for Spanish
    assert spanish.locator("html").get_attribute("lang") == "es"
    expect(spanish.locator("input[name=password]")).to_be_visible()
    expect(spanish.locator("input[name=confirm]")).to_be_visible()
    spanish.context.close()

    # A member's sign-up link, and the mail to an address that already has an account
    visitor = app.test_client()
    visitor.post("/register", data={"name": "Leo", "email": "leo@example.org", "password": "huelga hasta ganar",
                                    "confirm": "huelga hasta ganar", "language": "en"})
    text, html, link = the_link(read_mail(smtp, "leo@example.org", "Finish creating your account"), base)
    follow(page, link)
    expect(page.get_by_role("heading", name="Finish creating your account")).to_be_visible()
    expect(page.get_by_role("button", name="Finish creating my account")).to_be_visible()
    visitor.post("/register", data={"name": "Ana", "email": "ana@example.org", "password": "huelga hasta ganar",
                                    "confirm": "huelga hasta ganar", "language": "en"})
    text, html, link = the_link(read_mail(smtp, "ana@example.org", "Someone tried to create an account"), base)
    follow(page, link)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_claimed_membership_leads_the_treasurer_to_the_roster(base, desktop, fund, create_user, smtp):
    roster_service.import_roster(fund, GOOD.encode())
    create_user("tess@example.org", "treasurer", name="Tess Treasurer")
    first = create_user("rosa@example.org", "applicant", name="Rosa")
    second = create_user("other@example.org", "applicant", name="Someone")
    roster_service.link_member(first, fund, member_id="a-1", last_name="nunez")
    with pytest.raises(accounts.LinkRefused):
        roster_service.link_member(second, fund, member_id="a-1", last_name="nunez")
    db.session.commit()
    text, _html, link = the_link(read_mail(smtp, "tess@example.org", "A membership was claimed twice"), base)
    assert "other@example.org" in text
    sign_in_as(desktop, base, "tess@example.org")
    follow(desktop, link)
    expect(desktop.get_by_role("heading", name="Membership roster")).to_be_visible()


def another_case(application: Application, cents: int) -> Application:
    """A second application of the same member (a member has one roster entry)."""
    copy = Application(fund_id=application.fund_id, applicant_id=application.applicant_id,
                       member_id=application.member_id, rules_id=application.rules_id, status="submitted",
                       category="utilities", amount_requested_cents=cents, amount_paid_cents=0,
                       payee_kind="member", payee_name="", payee_details="")
    db.session.add(copy)
    db.session.commit()
    return copy


@pytest.mark.parametrize("language", ["en", "es"])
def test_case_mails_lead_the_member_to_their_application(base, desktop, fund, create_user, smtp, language):
    fund_with(fund, 500_000)
    tom = create_user("tom@example.org", "trustee", name="Tom Trustee")
    member = create_user("mia@example.org", "applicant", name="Mia Member", language=language)
    asked = submitted_case(fund, member, 1, 20_000, first_name="Mia")
    paid, denied = another_case(asked, 12_000), another_case(asked, 15_000)
    notify_member(fund, asked, "submitted")  # what the apply page does once the member sends it
    question = "Is the <b>rent</b> for March & April? <script>alert(1)</script>"
    review.ask_question(fund, asked, question, actor=tom)
    review.approve(fund, paid, 12_000, actor=tom)
    review.record_payment(fund, paid, amount_cents=12_000, method="cheque", reference="3001", paid_on=clock.today(fund),
                          actor=tom)
    review.deny(fund, denied, "not_hardship", actor=tom, note="Your household income is above the fund's limit.")
    db.session.commit()

    arrived = [m for m in smtp.messages if m["To"] == "mia@example.org"]
    assert len(arrived) == 5, [m["Subject"] for m in arrived]
    sign_in_as(desktop, base, "mia@example.org")
    # In the order they were queued: submitted, the question, approved, paid, denied
    cases = [asked, asked, paid, paid, denied]
    for n, (mail, case) in enumerate(zip(arrived, cases, strict=True)):
        text, html, link = the_link(mail, base)
        assert str(case.id) in mail["Subject"] and link == f"{base}/my/{case.id}", (mail["Subject"], link)
        assert f'lang="{language}"' in html
        if n == 1:
            assert question in text  # the question itself, as the trustee wrote it
            assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;rent" in html
        follow(desktop, link)
        assert desktop.locator("html").get_attribute("lang") == language
        expect(desktop.get_by_role("heading", level=1)).to_contain_text(str(case.id))


def test_donor_mails_lead_to_the_gift_and_the_donor_page(app, base, desktop, fund, smtp, localstripe, api):
    donation = pending_gift(fund, cents=5_000, email="kim@example.org")
    pay(api, donation)
    assert wait_for(lambda: db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED)
    receipt = wait_for(lambda: [m for m in smtp.messages if m["To"] == "kim@example.org"
                                and "receipt" in m["Subject"]])[-1]
    text, html, link = the_link(receipt, base)
    assert [p.get_filename() for p in receipt.iter_attachments()] == [
        f"receipt-{db.session.get(Donation, donation.id).receipt_number}.pdf"]
    follow(desktop, link)
    expect(desktop.get_by_role("heading", name="Thank you, Kim")).to_be_visible()

    app.test_client().post("/donor/login", data={"email": "kim@example.org"})
    _text, _html, link = the_link(read_mail(smtp, "kim@example.org", "sign-in link"), base)
    follow(desktop, link)
    expect(desktop.get_by_role("heading", name="Your gifts, Kim")).to_be_visible()

    # The year's statement leads to the donor page's sign-in (its link above is for one hour only)
    gift = db.session.get(Donation, donation.id)
    assert send_statement(fund, gift.donor, gift.received_on.year)
    db.session.commit()
    statement = read_mail(smtp, "kim@example.org", f"in {gift.received_on.year}")
    _text, _html, link = the_link(statement, base)
    assert [p.get_filename() for p in statement.iter_attachments()] == [f"statement-{gift.received_on.year}.pdf"]
    follow(desktop, link)
    expect(desktop.get_by_role("heading", name="Your gifts", exact=True)).to_be_visible()
