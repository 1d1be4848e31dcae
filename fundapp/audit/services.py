"""Writing and checking the audit trail.

``record_change`` is called by every service that changes state, inside the same
transaction, so the change and its record commit or roll back together.
Appends are serialised (an advisory lock on PostgreSQL; SQLite has one writer)
so two requests never chain onto the same predecessor.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from flask import g, has_request_context

from fundapp.audit.models import AuditRecord
from fundapp.extensions import db, utcnow

GENESIS_HASH = "0" * 64
_LOCK_KEY = 0x46554E44  # "FUND": the advisory lock that orders audit appends


def _digest(record: AuditRecord) -> str:
    body = json.dumps(
        [
            record.prev_hash,
            record.fund_id,
            record.actor_id,
            record.actor_label,
            record.action,
            record.object_type,
            record.object_id,
            record.before,
            record.after,
            record.request_id,
            record.created_at.isoformat(),
        ],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def wait_for_writers() -> None:
    """Take the lock every audited change takes, until this transaction ends: work that must not
    interleave with bookings (rebuilding the ledger's day totals) waits for them, and they for it."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(db.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def record_change(
    action: str,
    obj_type: str,
    obj_id,
    *,
    actor=None,
    fund_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditRecord:
    """Append one audit record for a state change (flushes, never commits)."""
    wait_for_writers()
    last = db.session.scalar(db.select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1))
    record = AuditRecord(
        fund_id=fund_id,
        actor_id=getattr(actor, "id", None),
        actor_label=f"user:{actor.id}" if actor is not None else _default_actor(),
        action=action,
        object_type=obj_type,
        object_id=None if obj_id is None else str(obj_id),
        before=before,
        after=after,
        request_id=g.get("request_id") if has_request_context() else None,
        created_at=utcnow().replace(microsecond=0),
        prev_hash=last or GENESIS_HASH,
    )
    record.hash = _digest(record)
    db.session.add(record)
    db.session.flush()
    return record


def _default_actor() -> str:
    return "system" if has_request_context() else "cli"


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_id: int | None


def verify_chain() -> ChainReport:
    """Walk the whole trail in order; name the first record whose hash or link is wrong."""
    prev = GENESIS_HASH
    checked = 0
    query = db.select(AuditRecord).order_by(AuditRecord.id).execution_options(yield_per=1000)
    for record in db.session.scalars(query):
        if record.prev_hash != prev or _digest(record) != record.hash:
            return ChainReport(checked, record.id)
        prev = record.hash
        checked += 1
    return ChainReport(checked, None)


@dataclass(frozen=True)
class AuditFilter:
    """What a trustee narrows the trail to; every field is optional."""

    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor_id: int | None = None
    start: date | None = None
    end: date | None = None


def search_records(fund_id: int, where: AuditFilter, *, before_id: int | None = None,
                   limit: int = 50) -> list[AuditRecord]:
    """The fund's records (and account-level ones, which have no fund) newest first, one page at a time.

    Paging is by id (``before_id``), so a page costs the same at record 10 and at record 10 million.
    """
    query = db.select(AuditRecord).where(db.or_(AuditRecord.fund_id == fund_id, AuditRecord.fund_id.is_(None)))
    if where.action:
        query = query.where(AuditRecord.action == where.action)
    if where.object_type:
        query = query.where(AuditRecord.object_type == where.object_type)
    if where.object_id:
        query = query.where(AuditRecord.object_id == where.object_id)
    if where.actor_id is not None:
        query = query.where(AuditRecord.actor_id == where.actor_id)
    if where.start is not None:
        query = query.where(AuditRecord.created_at >= datetime.combine(where.start, time.min, timezone.utc))
    if where.end is not None:
        query = query.where(AuditRecord.created_at < datetime.combine(where.end + timedelta(days=1), time.min,
                                                                        timezone.utc))
    if before_id is not None:
        query = query.where(AuditRecord.id < before_id)
    return list(db.session.scalars(query.order_by(AuditRecord.id.desc()).limit(limit)))


def known_actions(fund_id: int) -> list[str]:
    """The actions that occur in the fund's trail, for the filter's choices."""
    return list(db.session.scalars(
        db.select(AuditRecord.action).where(db.or_(AuditRecord.fund_id == fund_id, AuditRecord.fund_id.is_(None)))
        .distinct().order_by(AuditRecord.action)))
