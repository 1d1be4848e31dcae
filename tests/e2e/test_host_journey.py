"""Issue 23's "done means", in a browser: the host opens a second fund (a second bargaining unit's strike) from
its page; the fund has its own public page, takes a gift by card and pays a grant; it shows in the host's
consolidated books; then it is wound down, its balance moved to the first fund by a transfer a trustee of each
fund approves, and both funds' books are clean. Every page passes axe-core."""
from __future__ import annotations

from playwright.sync_api import expect

from fundapp.accounts.models import Member, Role, User
from fundapp.applications.models import Application
from fundapp.applications.services import current_rules
from fundapp.donations.models import Donation, DonationStatus
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.ledger.models import FundTransfer
from fundapp.review import services as review
from fundapp.review.checks import check_grants
from tests.conftest import enrol, wait_for
from tests.e2e.conftest import axe_violations, sign_in_as
from tests.e2e.helpers import shot


def pay_a_grant(fund: Fund, trustee: User) -> None:
    """A striking member of the second unit asks for $40 for a utility bill; a trustee approves and pays it."""
    member_user = User(email="miguel@example.org", name="Miguel Member", password_hash="x", language="en")
    db.session.add(member_user)
    db.session.flush()
    member = Member(fund_id=fund.id, member_id="U2-1", first_name="Miguel", last_name="M", worksite="Clinic",
                    unit="Unit 2", on_strike=True, user_id=member_user.id)
    db.session.add(member)
    db.session.flush()
    application = Application(fund_id=fund.id, applicant_id=member_user.id, member_id=member.id,
                              rules_id=current_rules(fund).id, status="submitted", category="utilities",
                              amount_requested_cents=4_000, amount_paid_cents=0, payee_kind="member",
                              payee_name="Miguel Member", payee_details="cheque", address="1 Clinic Way")
    db.session.add(application)
    db.session.flush()
    today = clock.today(fund)
    review.approve(fund, application, 4_000, actor=trustee, decided_on=today)
    review.record_payment(fund, application, amount_cents=4_000, method="cheque", reference="U2-CHQ-1",
                          paid_on=today, actor=trustee)
    db.session.commit()


def test_a_second_fund_is_opened_takes_a_gift_pays_a_grant_and_is_wound_down(live_server, phone, fund,
                                                                             create_user, localstripe):
    tess = create_user("tess@example.org", "treasurer", "trustee", name="Tess Treasurer")
    tess.is_operator = True
    rosa = create_user("rosa@example.org", "donor", name="Rosa Unit-Two")  # has an account already
    db.session.commit()
    page = phone

    # 1. the host opens the second unit's fund from its page
    sign_in_as(page, live_server, "tess@example.org")
    page.get_by_role("link", name="All funds").click()
    expect(page.get_by_role("heading", name="The funds hosted here")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Open a fund").click()
    page.get_by_label("Short name, for the fund's address").fill("unit-2")
    page.get_by_label("Name of the fund").fill("Unit Two Strike Fund")
    page.get_by_label("Legal name (printed on receipts)").fill("Local 9 Unit Two Hardship Fund")
    page.get_by_label("EIN (Employer Identification Number)").fill("98-7654321")
    page.get_by_label("Contact email (printed on receipts)").fill("unit2@example.org")
    page.get_by_label("The first treasurer's name").fill("Rosa Unit-Two")
    page.get_by_label("The first treasurer's email").fill("rosa@example.org")
    assert axe_violations(page) == []
    shot(page, "60-host-open-fund")
    page.get_by_role("button", name="Open the fund").click()
    expect(page.get_by_text("Unit Two Strike Fund is open, at /f/unit-2/")).to_be_visible()
    second = db.session.scalar(db.select(Fund).filter_by(slug="unit-2"))
    db.session.refresh(rosa)
    assert rosa.roles_in(second.id) == {Role.TREASURER}
    enrol(rosa)  # at her first sign-in as a treasurer she connects her authenticator app
    tina = create_user("tina@example.org", "trustee", name="Tina Unit-Two")
    for grant in tina.grants:
        grant.fund_id = second.id
    db.session.commit()
    page.get_by_role("button", name="Sign out").click()

    # 2. its own public page takes a gift by card
    page.goto(live_server + "/f/unit-2/")
    expect(page.get_by_role("heading", name="Unit Two Strike Fund")).to_be_visible()
    assert axe_violations(page) == []
    shot(page, "61-second-fund-home")
    page.locator("main").get_by_role("link", name="Give now").click()
    page.get_by_label("$100").check()
    page.get_by_label("Your name").fill("Pat Picket")
    page.get_by_label("Email address").fill("pat@example.org")
    page.get_by_role("button", name="Continue to payment").click()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay (test mode)").click()
    expect(page.get_by_text("Received: $100.00")).to_be_visible(timeout=15_000)
    assert "/f/unit-2/thanks/" in page.url
    gift = wait_for(lambda: db.session.scalar(db.select(Donation).filter_by(status=DonationStatus.SUCCEEDED)))
    assert gift.fund_id == second.id

    # 3. it pays a grant
    pay_a_grant(second, tina)
    db.session.rollback()
    left = ledger.available_to_grant(second)
    assert left == gift.net_cents - 4_000 > 0
    assert ledger.balance(fund, "Income:Donations") == 0  # the first fund's books did not move

    # 4. the host's consolidated books show both funds
    sign_in_as(page, live_server, "tess@example.org")
    page.goto(live_server + "/host/books")
    expect(page.get_by_role("columnheader", name="Unit Two Strike Fund")).to_be_visible()
    assert page.locator("tfoot").inner_text().count("$0.00") == 3  # each fund's column, and the sum, balance
    assert axe_violations(page) == []
    shot(page, "62-host-books")
    page.get_by_role("button", name="Sign out").click()

    # 5. wound down: paused, closed, the final report, and the balance moved to the first fund
    sign_in_as(page, live_server, "rosa@example.org")
    page.goto(live_server + "/f/unit-2/admin/fund/life")
    page.get_by_label("Closed: no new gifts either").check()
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Close the fund").click()  # the second step
    expect(page.get_by_text("Saved.")).to_be_visible()
    page.goto(live_server + "/f/unit-2/admin/ledger/final-report")
    expect(page.get_by_text("The figures add up")).to_be_visible()
    assert axe_violations(page) == []
    shot(page, "63-final-report")
    page.goto(live_server + "/f/unit-2/admin/ledger/transfers")
    page.get_by_label("Give to").select_option(label=fund.name)
    page.get_by_label("Amount (US dollars)").fill(f"{left / 100:.2f}")
    page.get_by_label("Why the money moves").fill("Unit Two's strike is settled: its balance goes to the local's fund")
    page.get_by_role("button", name="Propose the transfer").click()
    expect(page.get_by_text("Proposed.")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Sign out").click()
    for email, base in (("tina@example.org", "/f/unit-2"), ("tess@example.org", "")):
        sign_in_as(page, live_server, email)
        page.goto(live_server + base + "/admin/ledger/transfers")
        page.get_by_role("button", name="Approve for this fund").click()
        page.get_by_role("button", name="Approve").click()  # the second step
        expect(page.locator(".flash-success", has_text="Approved")).to_be_visible()
        shot(page, f"64-transfer-approved{base.replace('/', '-')}")
        page.get_by_role("button", name="Sign out").click()

    db.session.rollback()
    assert db.session.scalar(db.select(FundTransfer.booked_at)) is not None
    assert ledger.available_to_grant(second) == 0
    assert ledger.balance(fund, "Income:TransfersFromOtherFunds") == -left
    for books in (second, fund):  # both funds' books clean
        assert sum(ledger.balances(books).values()) == 0
        assert ledger.check_day_totals(books) == [] and check_grants(books) == []
    assert ledger.final_figures(second).adds_up
    page.goto(live_server + "/f/unit-2/donate")
    expect(page.get_by_role("heading", name="This fund is closed")).to_be_visible()
    assert axe_violations(page) == []
