"""A member downloads everything the fund holds about them, and nothing about anyone else."""
from __future__ import annotations

import io
import json
import zipfile

from fundapp.applications.models import Application
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.review import services as review
from tests.factories import PDF, fund_with, send, striker


def test_a_member_downloads_all_their_data_and_nobody_elses(client, create_user, roster, app):  # noqa: F811
    other = app.test_client()
    striker(other, create_user, roster, email="mary@example.org", member_id="A-3", last_name="O'Brien")
    assert send(other, amount="200", need="Leo's private reason", address="99 Other Rd").status_code == 302
    rosa = striker(client, create_user, roster)
    assert send(client, amount="250", documents=(io.BytesIO(PDF), "lease.pdf")).status_code == 302
    mine = db.session.scalar(db.select(Application).filter_by(applicant_id=rosa.id))
    fund_with(roster, 100_000)
    tom = create_user("tom@example.org", "trustee")
    review.approve(roster, mine, 25_000, actor=tom, note="Approved for December's rent.")
    review.record_payment(roster, mine, amount_cents=25_000, method="cheque", reference="1001",
                          paid_on=clock.local_date(roster, mine.submitted_at), actor=tom)
    db.session.commit()

    response = client.get("/account/my-data.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "private, no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    data = json.loads(archive.read("about-you.json"))
    assert data["account"]["email"] == "rosa@example.org" and data["roster_entry"]["member_id"] == "A-1"
    application, = data["applications"]
    assert application["address"] == "12 Mill St" and application["status"] == "paid"
    assert application["decisions"][0]["note"] == "Approved for December's rent."
    assert application["payments"][0]["amount_cents"] == 25_000 and application["payments"][0]["reference"] == "1001"
    document_name, = application["documents"]
    assert archive.read(document_name) == PDF
    text = archive.read("about-you.json").decode()
    for never in ("Leo's private reason", "99 Other Rd", "mary@example.org", "tom@example.org", "password_hash",
                  "totp", rosa.password_hash):
        assert never not in text
    assert {"user.data_downloaded"} <= set(db.session.scalars(db.select(AuditRecord.action).filter_by(actor_id=rosa.id)))
