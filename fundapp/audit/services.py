"""Writing and checking the audit trail.

``record_change`` is called by every service that changes state, inside the same
transaction, so the change and its record commit or roll back together.
Appends are serialised (an advisory lock on PostgreSQL; SQLite has one writer)
so two requests never chain onto the same predecessor.

Tamper evidence that survives the database's owner, in three layers:

- each record's ``hash`` chains it to the one before (anyone can recompute these);
- each record's ``mac`` seals its hash with ``AUDIT_KEY``, which lives outside the
  database: rewriting a record and recomputing every hash after it without the key
  leaves seals that do not match. Records older than the seal have none, and are
  accepted only before the first sealed one;
- an anchor (``take_anchor``): one line naming the chain's length and head, sealed
  too, kept outside the database (mailed to the trustees, filed by cron). Cutting
  off the newest records, or the whole table, leaves a chain that checks out on its
  own; only an anchor taken before shows what is missing (``anchor_problem``).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app, g, has_request_context

from fundapp.audit.models import AuditRecord
from fundapp.extensions import db, utcnow
from fundapp.funds import clock

GENESIS_HASH = "0" * 64
_LOCK_KEY = 0x46554E44  # "FUND": the advisory lock that orders audit appends


def _digest(record) -> str:
    """The record's hash: its predecessor's and its own contents (``record`` is an AuditRecord, or the values of
    one about to be written, by attribute)."""
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


def seal(text: str) -> str:
    """HMAC-SHA256 of ``text`` under AUDIT_KEY, in hex: what the database's owner cannot compute."""
    return hmac.new(current_app.config["AUDIT_KEY"].encode(), text.encode(), hashlib.sha256).hexdigest()


def wait_for_writers() -> None:
    """Take the lock every audited change takes, until this transaction ends: work that must not
    interleave with bookings (rebuilding the ledger's day totals) waits for them, and they for it."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(db.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


@dataclass(frozen=True)
class Change:
    """One state change to record (``record_changes`` appends several with one lock and one insert)."""

    action: str
    obj_type: str
    obj_id: object
    actor: object = None
    fund_id: int | None = None
    before: dict | None = None
    after: dict | None = None


def record_change(
    action: str,
    obj_type: str,
    obj_id,
    *,
    actor=None,
    fund_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """Append one audit record for a state change (in this transaction, never commits)."""
    record_changes([Change(action, obj_type, obj_id, actor, fund_id, before, after)])


def record_changes(changes: list[Change]) -> None:
    """Append audit records for several state changes, in order (in this transaction, never commits): the lock
    and the chain's head are taken once, and the records go in as one executemany (a booked batch of gifts)."""
    if not changes:
        return
    db.session.flush()  # what the records describe is written first
    wait_for_writers()
    last = db.session.scalar(db.select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1))
    request_id = g.get("request_id") if has_request_context() else None
    created_at = utcnow().replace(microsecond=0)
    rows = []
    for change in changes:
        actor = change.actor
        row = SimpleNamespace(
            fund_id=change.fund_id,
            actor_id=getattr(actor, "id", None),
            actor_label=f"user:{actor.id}" if actor is not None else _default_actor(),
            action=change.action,
            object_type=change.obj_type,
            object_id=None if change.obj_id is None else str(change.obj_id),
            before=change.before,
            after=change.after,
            request_id=request_id,
            created_at=created_at,
            prev_hash=last or GENESIS_HASH,
        )
        row.hash = last = _digest(row)
        row.mac = seal(row.hash)
        rows.append(vars(row))
    # In order: the rows are inserted one after another, so their ids follow the chain.
    db.session.execute(sa.insert(AuditRecord.__table__), rows)


def _default_actor() -> str:
    return "system" if has_request_context() else "cli"


#: Why a record breaks the chain, for people.
BREAKS = {
    "link": "it does not follow the record before it (a record was removed or inserted)",
    "hash": "its contents differ from its hash (it was changed)",
    "seal": "its seal does not match (the trail was rewritten without the audit key, or AUDIT_KEY changed)",
}


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_id: int | None
    reason: str | None = None  #: a key of BREAKS when broken
    sealed: int = 0  #: how many of the good records carry a seal


def verify_chain() -> ChainReport:
    """Walk the whole trail in order; name the first record whose link, hash or seal is wrong."""
    prev = GENESIS_HASH
    checked = sealed = 0
    query = db.select(AuditRecord).order_by(AuditRecord.id).execution_options(yield_per=1000)
    for record in db.session.scalars(query):
        reason = None
        if record.prev_hash != prev:
            reason = "link"
        elif _digest(record) != record.hash:
            reason = "hash"
        elif record.mac is None and sealed:  # only records older than the seal may lack one
            reason = "seal"
        elif record.mac is not None and not hmac.compare_digest(record.mac, seal(record.hash)):
            reason = "seal"
        if reason is not None:
            return ChainReport(checked, record.id, reason, sealed)
        prev = record.hash
        checked += 1
        sealed += record.mac is not None
    return ChainReport(checked, None, None, sealed)


# --- anchors: the chain's head, written down outside the database --------------------------------

ANCHOR_PREFIX = "fundapp-audit-anchor v1"
_ANCHOR_LINE = re.compile(r"fundapp-audit-anchor v1 length=(\d+) id=(\d+) head=([0-9a-f]{64}) "
                          r"at=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) mac=([0-9a-f]{64})")


class AnchorInvalid(ValueError):
    """Text that is not an anchor, or one whose seal is wrong; the message says which."""


@dataclass(frozen=True)
class Anchor:
    """The chain as it stood: ``length`` records, the newest ``record_id`` with hash ``head``."""

    length: int
    record_id: int
    head: str
    at: datetime

    @property
    def body(self) -> str:
        return (f"{ANCHOR_PREFIX} length={self.length} id={self.record_id} head={self.head} "
                f"at={self.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}")

    @property
    def line(self) -> str:
        """The text to keep: the body and its seal under AUDIT_KEY."""
        return f"{self.body} mac={seal(self.body)}"


def parse_anchor(text: str) -> Anchor:
    """The anchor in ``text`` (one line), refused when malformed or when its seal is wrong."""
    found = _ANCHOR_LINE.fullmatch(text.strip())
    if found is None:
        raise AnchorInvalid(f"not an audit anchor (expected a line starting {ANCHOR_PREFIX!r})")
    length, record_id, head, at, mac = found.groups()
    anchor = Anchor(int(length), int(record_id), head,
                    datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
    if anchor.body != text.strip().rsplit(" mac=", 1)[0] or not hmac.compare_digest(mac, seal(anchor.body)):
        raise AnchorInvalid("the anchor's own seal is wrong: it was altered, or made with another AUDIT_KEY")
    return anchor


def take_anchor(*, actor=None) -> Anchor:
    """Describe the chain's head for keeping outside the database, and record that it was taken (flushes).

    The anchor names the head before its own ``audit.anchor`` record (a record cannot name its own hash);
    the next anchor covers that one.
    """
    wait_for_writers()  # the head and the length are read with no append in between
    head = db.session.execute(db.select(AuditRecord.id, AuditRecord.hash)
                              .order_by(AuditRecord.id.desc()).limit(1)).first()
    length = db.session.scalar(db.select(db.func.count(AuditRecord.id)))
    anchor = Anchor(length, head.id if head else 0, head.hash if head else GENESIS_HASH,
                    utcnow().replace(microsecond=0))
    record_change("audit.anchor", "audit_chain", anchor.record_id, actor=actor,
                  after={"length": anchor.length, "head": anchor.head, "at": anchor.at.isoformat()})
    return anchor


def anchor_problem(anchor: Anchor) -> str | None:
    """Why the trail does not hold ``anchor``'s head at its place (rewritten, or cut below it); None when it does.

    With ``verify_chain`` intact, a head found at its place vouches for every record before it.
    """
    if anchor.length == 0:
        return None
    found = db.session.scalar(db.select(AuditRecord.hash).where(AuditRecord.id == anchor.record_id))
    if found is None:
        length = db.session.scalar(db.select(db.func.count(AuditRecord.id)))
        return (f"record {anchor.record_id}, the anchor's head, is gone: the trail holds {length} records, "
                f"the anchor of {anchor.at:%Y-%m-%d %H:%M} UTC saw {anchor.length} (records were removed)")
    if found != anchor.head:
        return (f"record {anchor.record_id} is not the one anchored on {anchor.at:%Y-%m-%d %H:%M} UTC: its hash "
                f"is {found}, the anchor's {anchor.head} (the trail was rewritten)")
    position = db.session.scalar(db.select(db.func.count(AuditRecord.id)).where(AuditRecord.id <= anchor.record_id))
    if position != anchor.length:
        return (f"record {anchor.record_id} is number {position} in the trail, the anchor says {anchor.length} "
                f"(records before it were removed or added)")
    return None


def last_anchored_at() -> datetime | None:
    """When the chain's head was last anchored (None: never)."""
    return db.session.scalar(db.select(db.func.max(AuditRecord.created_at)).where(AuditRecord.action == "audit.anchor"))


@dataclass(frozen=True)
class AuditFilter:
    """What a trustee narrows the trail to; every field is optional."""

    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor_id: int | None = None
    start: date | None = None
    end: date | None = None


def search_records(fund, where: AuditFilter, *, before_id: int | None = None,
                   limit: int = 50) -> list[AuditRecord]:
    """The fund's records, newest first, one page at a time; the days are the fund's (its time zone).

    Records without a fund (account-level events: a password changed, a reset asked for) are about people who may
    belong to other funds of the installation: no fund's trustees see them here (a person sees their own in the
    download of their data); with ``fund`` None, only those, for the host's operators (``/host/audit``, which
    filters on nothing but the page). Paging is by id (``before_id``), so a page costs the same at record 10 and at
    record 10 million.
    """
    query = db.select(AuditRecord).where(AuditRecord.fund_id == fund.id if fund is not None
                                         else AuditRecord.fund_id.is_(None))
    if where.action:
        query = query.where(AuditRecord.action == where.action)
    if where.object_type:
        query = query.where(AuditRecord.object_type == where.object_type)
    if where.object_id:
        query = query.where(AuditRecord.object_id == where.object_id)
    if where.actor_id is not None:
        query = query.where(AuditRecord.actor_id == where.actor_id)
    lower, upper = clock.period_bounds_utc(fund, where.start, where.end) if fund is not None else (None, None)
    if lower is not None:
        query = query.where(AuditRecord.created_at >= lower)
    if upper is not None:
        query = query.where(AuditRecord.created_at < upper)
    if before_id is not None:
        query = query.where(AuditRecord.id < before_id)
    return list(db.session.scalars(query.order_by(AuditRecord.id.desc()).limit(limit)))


def actors_of(fund_id: int):
    """A query of the ids of everyone who made a change in the fund's trail (the person filter's choices)."""
    return db.select(AuditRecord.actor_id).where(AuditRecord.fund_id == fund_id,
                                                 AuditRecord.actor_id.is_not(None)).distinct()


def known_actions(fund_id: int) -> list[str]:
    """The actions that occur in the fund's trail, for the filter's choices."""
    return list(db.session.scalars(
        db.select(AuditRecord.action).where(AuditRecord.fund_id == fund_id)
        .distinct().order_by(AuditRecord.action)))
