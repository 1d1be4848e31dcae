"""What ``/healthz`` reports: the database, Redis (when set), the worker's heartbeat and the backlogs.

The check reads a few rows and never talks to the mail server or Stripe, so it answers at once whatever they
do. A part is failing when the database or Redis does not answer, when no worker has beaten its heart for
``HEALTH_WORKER_STALE_SECONDS`` (nothing sends mail or books gifts), or when more than ``HEALTH_OUTBOX_MAX``
messages or ``HEALTH_EVENTS_MAX`` Stripe events wait; the answer then names it.
Each worker writes its heartbeat at most every ``HEARTBEAT_EVERY`` (a row per process), so the beats cost
the database next to nothing. ``backlogs`` reads the heartbeat and the queues in one short pass, for /healthz and
for the gauges of /metrics (``fundapp.main.gauges``).
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from fundapp.extensions import UTCDateTime, begin_write, db, insert_or_merge, utcnow

HEARTBEAT_EVERY = timedelta(seconds=15)
#: Rows of workers gone this long are removed by the next beat.
FORGET_AFTER = timedelta(days=1)
#: How long /healthz waits for Redis (it must answer within 100 ms in all).
REDIS_TIMEOUT = 0.05


class WorkerHeartbeat(db.Model):
    __tablename__ = "worker_heartbeats"

    #: host:pid of the worker process.
    worker: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def beat(worker: str | None = None) -> None:
    """Write down that this worker is alive (a short write of its own, committed)."""
    now = utcnow()
    worker = worker or worker_name()
    db.session.rollback()
    begin_write()
    statement = insert_or_merge(WorkerHeartbeat).values(worker=worker, beat_at=now)
    db.session.execute(statement.on_conflict_do_update(index_elements=["worker"], set_={"beat_at": now}))
    db.session.execute(db.delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER))
    db.session.commit()


def _redis_answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


@dataclass(frozen=True)
class Backlogs:
    """The newest heartbeat and what waits: mail not yet sent (nor given up on) and Stripe events not yet applied,
    each with its oldest."""

    last_beat: datetime | None
    outbox_waiting: int
    outbox_oldest: datetime | None
    events_waiting: int
    events_oldest: datetime | None


def backlogs() -> Backlogs:
    """Three small reads; writes nothing."""
    from fundapp.donations.models import StripeEvent
    from fundapp.mail import MAX_ATTEMPTS, OutboxMessage

    last = db.session.scalar(db.select(db.func.max(WorkerHeartbeat.beat_at)))
    outbox, outbox_oldest = db.session.execute(
        db.select(db.func.count(OutboxMessage.id), db.func.min(OutboxMessage.created_at))
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)).one()
    events, events_oldest = db.session.execute(
        db.select(db.func.count(StripeEvent.id), db.func.min(StripeEvent.received_at))
        .where(StripeEvent.processed_at.is_(None))).one()
    return Backlogs(_aware(last), outbox or 0, _aware(outbox_oldest), events or 0, _aware(events_oldest))


def _aware(moment: datetime | None) -> datetime | None:
    """max() and min() on SQLite come back without their zone; the column holds UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def seconds_since(moment: datetime) -> int:
    return max(0, int((utcnow() - moment).total_seconds()))


def check() -> tuple[bool, dict]:
    """(healthy, the report for /healthz)."""
    config = current_app.config
    report: dict = {"status": "ok", "failing": []}
    try:
        db.session.execute(db.text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        report.update(status="error", failing=["database"], database="unreachable")
        return False, report
    report["database"] = "ok"
    if config.get("REDIS_URL"):
        report["redis"] = "ok" if _redis_answers(config["REDIS_URL"]) else "unreachable"
        if report["redis"] != "ok":
            report["failing"].append("redis")
    found = backlogs()
    last = found.last_beat
    age = None if last is None else seconds_since(last)
    worker_ok = age is not None and age <= config["HEALTH_WORKER_STALE_SECONDS"]
    report["worker"] = {"status": "ok" if worker_ok else "stale", "last_heartbeat": last.isoformat() if last else None,
                        "seconds_ago": age}
    report["outbox"] = {"status": "ok" if found.outbox_waiting <= config["HEALTH_OUTBOX_MAX"] else "backlog",
                        "waiting": found.outbox_waiting}
    report["stripe_events"] = {"status": "ok" if found.events_waiting <= config["HEALTH_EVENTS_MAX"] else "backlog",
                               "waiting": found.events_waiting}
    for part in ("worker", "outbox", "stripe_events"):
        if report[part]["status"] != "ok":
            report["failing"].append(part)
    db.session.rollback()
    if report["failing"]:
        report["status"] = "error"
    return not report["failing"], report
