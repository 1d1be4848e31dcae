"""Retention: a closed case's documents and personal details are removed after a set time.

A case is closed when it is paid, denied or withdrawn; ``RETENTION_DAYS`` after its last
change (three years by default: the IRS asks that the records behind a return be kept at
least that long; ask your accountant before shortening it), ``flask fund purge-closed``
deletes its documents (the files and their rows), blanks the household, address, phone,
payee account details and the described need, and replaces the words of the conversation and
of the trustees' notes with "(removed)". What the books and the anonymised register need stays: amounts, dates,
category, decision, rules version, who decided, and the journal entries (never touched).
The register then shows "(removed)" for the recipient and the address.

A file is deleted only after its row's deletion is committed, so a failure never leaves a
row whose file is gone. (A crash in between leaves that file behind; nothing sweeps the
folder for files without rows, since a database pointed at by mistake would name none.)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fundapp.applications.documents import documents_dir
from fundapp.applications.models import Application, ApplicationMessage
from fundapp.applications.states import Status
from fundapp.audit.services import record_change
from fundapp.extensions import db, utcnow
from fundapp.funds.models import Fund

CLOSED = (Status.PAID, Status.DENIED, Status.WITHDRAWN)
REMOVED = "(removed)"


@dataclass
class Purged:
    cases: int = 0
    documents: int = 0
    bytes: int = 0


def due(fund: Fund, older_than: timedelta, now: datetime | None = None) -> list[Application]:
    cutoff = (now or utcnow()) - older_than
    return list(db.session.scalars(db.select(Application).where(
        Application.fund_id == fund.id, Application.status.in_(list(CLOSED)),
        Application.personal_data_removed_at.is_(None), Application.updated_at < cutoff).order_by(Application.id)))


def purge_closed(fund: Fund, older_than: timedelta, now: datetime | None = None) -> Purged:
    """Remove the documents and personal details of cases closed longer than ``older_than``; commits per case."""
    done = Purged()
    folder = documents_dir()
    cutoff = (now or utcnow()) - older_than
    for candidate in due(fund, older_than, now):
        # Lock the case and look again: a payment voided meanwhile has reopened it.
        application = db.session.scalar(db.select(Application).where(Application.id == candidate.id)
                                        .with_for_update(of=Application).execution_options(populate_existing=True))
        if (application.status not in CLOSED or application.personal_data_removed_at is not None
                or application.updated_at >= cutoff):
            db.session.rollback()
            continue
        files = [(d.stored_name, d.size_bytes) for d in application.documents]
        for document in list(application.documents):
            db.session.delete(document)
        for field in ("household_members", "address", "phone", "payee_details", "need"):
            setattr(application, field, "")
        db.session.execute(db.update(ApplicationMessage).where(ApplicationMessage.application_id == application.id)
                           .values(body=REMOVED))
        from fundapp.review.models import CaseNote  # the trustees' notes go too (review's table, same case)

        db.session.execute(db.update(CaseNote).where(CaseNote.application_id == application.id).values(body=REMOVED))
        application.personal_data_removed_at = utcnow()
        record_change("application.personal_data_removed", "application", application.id, fund_id=fund.id,
                      after={"documents": len(files), "status": application.status})
        db.session.commit()
        for stored_name, size in files:
            (folder / stored_name).unlink(missing_ok=True)
            done.documents += 1
            done.bytes += size
        done.cases += 1
    return done
