"""Audit records, each chained to the one before by a SHA-256 hash.

A record is never updated or deleted (on PostgreSQL a trigger refuses UPDATE,
DELETE and TRUNCATE). ``hash`` covers the record's own fields and ``prev_hash``,
so changing or removing any record breaks the chain from there on, which
``verify_chain`` reports. ``mac`` seals ``hash`` with ``AUDIT_KEY``, a key the
database never holds: whoever owns the database can recompute every hash, but
not the seals. Records written before the seal existed have none.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fundapp.extensions import UTCDateTime, db, utcnow


class AuditRecord(db.Model):
    __tablename__ = "audit_records"
    __table_args__ = (sa.Index("ix_audit_records_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("funds.id"), index=True)
    #: The user who acted; None for the system or a command without a user.
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: Who acted, as text that survives the user's deletion ("user:3", "cli", "system").
    actor_label: Mapped[str] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(60))
    object_id: Mapped[str | None] = mapped_column(sa.String(60))
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)
    request_id: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: HMAC-SHA256 of ``hash`` under AUDIT_KEY (hex); None only on records older than the seal (migration 0015).
    mac: Mapped[str | None] = mapped_column(sa.String(64))
