"""The fund settings page (/admin/fund): validation, the audited save, what receipts print from it, who may
see it, and production holding receipts while the EIN or the contact is a placeholder."""
from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from fundapp.applications.models import FundRules
from fundapp.audit.models import AuditRecord
from fundapp.config import PLACEHOLDER_EIN
from fundapp.donations import offline, receipts
from fundapp.donations.events import tidy_everywhere
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.mail import OutboxMessage, deliver_pending
from tests.conftest import sign_in

GOOD = {
    "name": "Local 7 Strike Fund", "legal_name": "Local 7 Strike Hardship Fund", "ein": "12-3456789",
    "legal_form": "501(c)(5)", "legal_form_wording": "", "postal_address": "PO Box 77\nOakland, CA 94612",
    "contact_email": "fund@local7.example.org", "goal": "75000.00", "reserve": "0.00",
    "time_zone": "America/New_York", "fiscal_year_start_month": "7", "signatory_name": "Rosa Marquez",
    "signatory_title": "Treasurer",
}


@pytest.fixture
def treasurer(client, create_user):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    return client


def snapshot(fund) -> dict:
    db.session.expire_all()
    row = db.session.get(Fund, fund.id)
    return {c.name: getattr(row, c.name) for c in Fund.__table__.columns}


def fund_audits() -> list[AuditRecord]:
    return list(db.session.scalars(db.select(AuditRecord).filter_by(action="fund.update").order_by(AuditRecord.id)))


def test_a_new_fund_gets_the_default_time_zone_and_january(fund):
    assert (fund.time_zone, fund.fiscal_year_start_month) == ("America/Los_Angeles", 1)
    assert (fund.postal_address, fund.signatory_name, fund.signatory_title) == ("", "", "")


@pytest.mark.parametrize("field, value, message", [
    ("ein", "123456789", "two digits, a hyphen and seven digits"),
    ("ein", "12-345678", "two digits, a hyphen and seven digits"),
    ("time_zone", "America/Atlantis", "time zone name such as America/Los_Angeles"),
    ("time_zone", "../../etc/passwd", "time zone name such as America/Los_Angeles"),
    ("legal_name", "", "This field is required."),
    ("legal_form", "other", "write what receipts should say about deductibility"),
    ("goal", "12.345", "two digits after the decimal point"),
])
def test_a_bad_setting_re_renders_with_its_message_and_changes_nothing(treasurer, fund, field, value, message):
    before = snapshot(fund)
    response = treasurer.post("/admin/fund", data={**GOOD, field: value})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert snapshot(fund) == before
    assert fund_audits() == []


def test_a_save_changes_the_fund_and_audits_only_what_changed(treasurer, fund):
    first = treasurer.post("/admin/fund", data=GOOD)
    assert first.status_code == 302 and first.headers["Location"].endswith("/admin/fund")
    saved = snapshot(fund)
    assert {k: saved[k] for k in ("ein", "postal_address", "time_zone", "fiscal_year_start_month", "goal_cents",
                                  "signatory_name", "signatory_title")} == {
        "ein": "12-3456789", "postal_address": "PO Box 77\nOakland, CA 94612", "time_zone": "America/New_York",
        "fiscal_year_start_month": 7, "goal_cents": 7_500_000, "signatory_name": "Rosa Marquez",
        "signatory_title": "Treasurer"}
    second = treasurer.post("/admin/fund", data={**GOOD, "ein": "98-7654321"})
    assert second.status_code == 302
    audits = fund_audits()
    assert len(audits) == 2
    assert audits[1].before == {"ein": "12-3456789"} and audits[1].after == {"ein": "98-7654321"}
    assert audits[0].after["time_zone"] == "America/New_York"
    assert audits[0].before["time_zone"] == "America/Los_Angeles"
    assert "reserve_cents" not in audits[0].after  # unchanged fields are not recorded
    treasurer.post("/admin/fund", data={**GOOD, "ein": "98-7654321"})
    assert len(fund_audits()) == 2  # a save that changes nothing records nothing


def test_the_reserve_is_saved_as_a_new_version_of_the_rules(treasurer, fund):
    response = treasurer.post("/admin/fund", data={**GOOD, "reserve": "1500.00"})
    assert response.status_code == 302
    assert snapshot(fund)["reserve_cents"] == 150_000
    latest = db.session.scalars(db.select(FundRules).filter_by(fund_id=fund.id)
                                .order_by(FundRules.version.desc())).first()
    assert latest.reserve_cents == 150_000  # the rules and the fund say the same
    audit = fund_audits()[0]
    assert audit.before["reserve_cents"] == 0 and audit.after["reserve_cents"] == 150_000


def test_the_next_receipt_carries_the_new_ein_address_and_signatory(treasurer, fund):
    assert treasurer.post("/admin/fund", data=GOOD).status_code == 302
    db.session.expire_all()
    fund = db.session.get(Fund, fund.id)
    gift = offline.record_offline_gift(fund, name="Ana Cheque", email="ana@example.org", amount_cents=15_000,
                                         received_on=date(2026, 11, 20), method="cheque")
    db.session.commit()
    text = PdfReader(io.BytesIO(receipts.receipt_for(fund, gift))).pages[0].extract_text()
    assert "12-3456789" in text
    assert "PO Box 77" in text and "Oakland, CA 94612" in text
    assert "Rosa Marquez, Treasurer" in text
    assert PLACEHOLDER_EIN not in text


def test_another_legal_form_prints_its_own_wording(treasurer, fund):
    wording = "Gifts to this association are not tax-deductible."
    response = treasurer.post("/admin/fund", data={**GOOD, "legal_form": "other", "legal_form_wording": wording})
    assert response.status_code == 302
    db.session.expire_all()
    fund = db.session.get(Fund, fund.id)
    gift = offline.record_offline_gift(fund, name="Ana", email="", amount_cents=1_000,
                                         received_on=date(2026, 11, 20), method="cash")
    text = PdfReader(io.BytesIO(receipts.receipt_for(fund, gift))).pages[0].extract_text().replace("\n", " ")
    assert "not tax-deductible" in text


@pytest.mark.parametrize("role", ["trustee", "donor", "applicant"])
def test_only_the_treasurer_sees_or_saves_the_page(client, create_user, fund, role):
    create_user(f"{role}@example.org", role)
    sign_in(client, f"{role}@example.org")
    before = snapshot(fund)
    assert client.get("/admin/fund").status_code == 403
    assert client.post("/admin/fund", data=GOOD).status_code == 403
    assert snapshot(fund) == before


def test_anonymous_visitors_are_sent_to_sign_in(client, fund):
    response = client.post("/admin/fund", data=GOOD)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def mailed_receipts() -> int:
    return db.session.scalar(db.select(db.func.count(OutboxMessage.id)).where(
        OutboxMessage.attachment_name.is_not(None)))


def test_production_mails_no_receipt_while_the_ein_is_the_placeholder_and_the_page_says_so(app, treasurer, fund):
    app.config["ENV_NAME"] = "production"
    fund.ein, fund.contact_email = PLACEHOLDER_EIN, "fund@local7.example.org"
    db.session.commit()
    offline.record_offline_gift(fund, name="Ana", email="ana@example.org", amount_cents=15_000,
                                  received_on=date(2026, 11, 20), method="cheque")
    db.session.commit()
    assert mailed_receipts() == 0
    page = treasurer.get("/admin/fund").get_data(as_text=True)
    assert "Receipts are not being sent" in page and PLACEHOLDER_EIN in page

    saved = treasurer.post("/admin/fund", data=GOOD, follow_redirects=True).get_data(as_text=True)
    assert "any held until now are being mailed to their donors" in saved
    db.session.expire_all()
    fund = db.session.get(Fund, fund.id)
    offline.record_offline_gift(fund, name="Ana", email="ana@example.org", amount_cents=2_000,
                                  received_on=date(2026, 11, 20), method="cheque")
    db.session.commit()
    assert mailed_receipts() == 1  # the real EIN set: receipts go again
    assert "Receipts are not being sent" not in treasurer.get("/admin/fund").get_data(as_text=True)

    assert tidy_everywhere() == (0, 1)  # the worker mails the receipt held while the EIN was a placeholder
    assert mailed_receipts() == 2 and tidy_everywhere() == (0, 0)  # once
    held = db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)).all()[-1]
    assert held.attachment is None  # queued with the gift; the sender renders the receipt as it sends it
    deliver_pending()
    db.session.refresh(held)
    text = PdfReader(io.BytesIO(held.attachment)).pages[0].extract_text()
    assert GOOD["ein"] in text and PLACEHOLDER_EIN not in text and "150.00" in text


def test_production_mails_no_receipt_while_the_contact_is_the_placeholder(app, fund):
    from fundapp.config import PLACEHOLDER_CONTACT_EMAIL

    app.config["ENV_NAME"] = "production"
    fund.ein, fund.contact_email = "12-3456789", PLACEHOLDER_CONTACT_EMAIL
    db.session.commit()
    offline.record_offline_gift(fund, name="Ana", email="ana@example.org", amount_cents=15_000,
                                  received_on=date(2026, 11, 20), method="cheque")
    assert mailed_receipts() == 0


def test_development_still_mails_receipts_with_the_placeholders(app, fund):
    fund.ein = PLACEHOLDER_EIN
    db.session.commit()
    offline.record_offline_gift(fund, name="Ana", email="ana@example.org", amount_cents=15_000,
                                  received_on=date(2026, 11, 20), method="cheque")
    assert mailed_receipts() == 1
