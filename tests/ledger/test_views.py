"""The treasurer's page of the books and its downloads."""
from __future__ import annotations

from datetime import date

import pytest

from fundapp.extensions import db
from fundapp.ledger import services as ledger
from tests.conftest import sign_in


@pytest.fixture
def treasurer(client, create_user, fund):
    """A signed-in treasurer of a fund whose books hold one gift of $1,234.56 on 2 November 2026."""
    create_user("tess@example.org", "treasurer")
    ledger.post_entry(fund, entry_date=date(2026, 11, 2), memo="gift", source_kind="t", source_id="1",
                      postings=[("Assets:Bank", 123_456), ("Income:Donations", -123_456)])
    db.session.commit()
    sign_in(client, "tess@example.org")
    return client


def test_books_page_shows_trial_balance_and_available(treasurer):
    client = treasurer
    page = client.get("/admin/ledger/").get_data(as_text=True)
    assert page.count("$1,234.56") >= 4  # bank debit, donations credit, both totals (and available)
    early = client.get("/admin/ledger/?as_of=2026-11-01").get_data(as_text=True)
    assert "$1,234.56" not in early
    assert client.get("/admin/ledger/?as_of=not-a-date").status_code == 400


def test_books_download_as_csv_and_beancount(treasurer):
    client = treasurer
    csv_response = client.get("/admin/ledger/export?format=csv&from=2026-11-01")
    assert csv_response.status_code == 200
    assert csv_response.headers["Content-Disposition"].endswith('ledger-2026-11-01.csv"')
    assert csv_response.data.startswith(b"\xef\xbb\xbfentry_id,date,account,debit,credit,memo,source")
    assert b"Assets:Bank,1234.56," in csv_response.data
    bean = client.get("/admin/ledger/export?format=beancount")
    assert b"Income:Donations" in bean.data and b"-1234.56 USD" in bean.data
    assert client.get("/admin/ledger/export?format=xlsx").status_code == 400
