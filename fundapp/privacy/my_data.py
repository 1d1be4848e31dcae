"""Everything the fund holds about one person, for them to download (a ZIP).

``about-you.json`` holds the account (never the password hash or the second factor's
secret), the roles, the roster entry, each application with its answers, conversation,
decisions and payments, and the audit trail's records about the person and their
applications; ``documents/`` holds every file they uploaded, as uploaded. Trustees'
internal notes on a decision go to the member as the decision's note already; the
trustees' identities stay out (only "the trustees").
"""
from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime

from fundapp.accounts.models import Member, RoleGrant, User
from fundapp.applications.documents import documents_dir
from fundapp.applications.models import Application
from fundapp.applications.states import Status
from fundapp.audit.models import AuditRecord
from fundapp.audit.services import record_change
from fundapp.extensions import db, utcnow
from fundapp.funds.models import Fund
from fundapp.review.models import Approval, GrantPayment

DECIDED = (Status.APPROVED, Status.PARTIALLY_APPROVED, Status.PAID, Status.DENIED)


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _row(obj, fields: list[str]) -> dict:
    return {name: _plain(getattr(obj, name)) for name in fields}


def everything_about(user: User, fund: Fund) -> bytes:
    """The person's data as a ZIP; the download itself goes on the audit trail."""
    applications = db.session.scalars(db.select(Application).where(
        Application.fund_id == fund.id, Application.applicant_id == user.id).order_by(Application.id)).all()
    ids = [a.id for a in applications]
    approvals = db.session.scalars(db.select(Approval).where(Approval.application_id.in_(ids))).all() if ids else []
    payments = db.session.scalars(db.select(GrantPayment).where(GrantPayment.application_id.in_(ids))).all() \
        if ids else []
    member = db.session.scalar(db.select(Member).filter_by(fund_id=fund.id, user_id=user.id))
    audit = db.session.scalars(db.select(AuditRecord).where(
        AuditRecord.fund_id.is_(None) | (AuditRecord.fund_id == fund.id),
        ((AuditRecord.object_type == "user") & (AuditRecord.object_id == str(user.id)))
        | ((AuditRecord.object_type == "application") & AuditRecord.object_id.in_([str(i) for i in ids])))
        .order_by(AuditRecord.id)).all()
    data = {
        "fund": fund.name,
        "made_at": utcnow().isoformat(),
        "account": _row(user, ["email", "name", "language", "active", "created_at", "last_login_at"])
        | {"second_factor": user.totp_enabled_at is not None},
        "roles": sorted(g.role for g in db.session.scalars(db.select(RoleGrant).filter_by(user_id=user.id,
                                                                                         fund_id=fund.id))),
        "roster_entry": _row(member, ["member_id", "first_name", "last_name", "email", "worksite", "unit",
                                      "on_strike", "linked_at"]) if member else None,
        "applications": [
            _row(a, ["id", "status", "category", "amount_requested_cents", "household_size", "household_members",
                     "address", "phone", "payee_kind", "payee_name", "payee_details", "need", "attested",
                     "amount_approved_cents", "amount_paid_cents", "decision_reason", "submitted_at", "created_at",
                     "updated_at"])
            | {"rules_version": a.rules.version if a.rules else None,
               "conversation": [{"from": "you" if m.author_id == user.id else "the trustees", "kind": m.kind,
                                 "body": m.body, "at": _plain(m.created_at)} for m in a.messages],
               # a decision once made (a first approval awaiting a second trustee is not one yet)
               "decisions": [{"amount_cents": d.amount_cents, "note": d.note, "criteria": d.criteria,
                              "at": _plain(d.created_at)} for d in approvals
                             if d.application_id == a.id and a.status in DECIDED],
               "payments": [_row(p, ["amount_cents", "method", "reference", "paid_on", "payee_name", "voided_at",
                                     "void_reason"]) for p in payments if p.application_id == a.id],
               "documents": [f"documents/{a.id}-{d.id}-{d.original_name}" for d in a.documents]}
            for a in applications],
        "audit_trail": [{"at": _plain(r.created_at), "action": r.action, "object": f"{r.object_type} {r.object_id}",
                         "by": "you" if r.actor_id == user.id else ("the fund" if r.actor_id else "the system")}
                        for r in audit],
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("about-you.json", json.dumps(data, indent=2, ensure_ascii=False))
        for application in applications:
            for document in application.documents:
                path = documents_dir() / document.stored_name
                if path.exists():
                    archive.writestr(f"documents/{application.id}-{document.id}-{document.original_name}",
                                     path.read_bytes())
    record_change("user.data_downloaded", "user", user.id, actor=user, fund_id=fund.id)
    return out.getvalue()
