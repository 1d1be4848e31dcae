"""Outgoing mail through an outbox.

A service queues a message in the same transaction as the change it reports
(``queue_mail``); after the commit, ``deliver_pending`` sends what is waiting over
SMTP. If the SMTP server is down the message stays in the outbox and is tried
again later by the worker (``flask fund worker``), the next request that sends
mail, or ``flask fund send-mail``: after 1, 2, 4 ... minutes (at most six hours),
``MAX_ATTEMPTS`` times in all, which rides out a mail outage of a working day.
Several senders never send one message twice: on PostgreSQL each locks the
messages it sends (``FOR UPDATE SKIP LOCKED``).
Without ``MAIL_SERVER`` (local mode) messages are written to the log instead.
"""
from __future__ import annotations

import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from fundapp.extensions import UTCDateTime, db, utcnow

MAX_ATTEMPTS = 10
MAX_BACKOFF = timedelta(hours=6)


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: One optional attachment (a receipt PDF), kept with the message so a retry sends the same file.
    attachment_name: Mapped[str | None] = mapped_column(sa.String(200))
    attachment: Mapped[bytes | None] = mapped_column(sa.LargeBinary)


def queue_mail(to: str, subject: str, body: str, attachment: tuple[str, bytes] | None = None) -> OutboxMessage:
    """Put a plain-text message in the outbox (flushes, never commits); ``attachment`` is (filename, PDF bytes)."""
    message = OutboxMessage(to_address=to, subject=subject, body=body,
                            attachment_name=attachment[0] if attachment else None,
                            attachment=attachment[1] if attachment else None)
    db.session.add(message)
    db.session.flush()
    return message


def public_link(endpoint: str, **values) -> str:
    """The public address of a page, for a mail: ``BASE_URL`` and the page's path. Built without a request,
    since mail is also queued by the event worker and by commands."""
    return current_app.config["BASE_URL"] + current_app.url_map.bind("localhost").build(endpoint, values)


def _build(message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(idstring=f"outbox{message.id}")
    email.set_content(message.body)
    if message.attachment is not None:
        email.add_attachment(message.attachment, maintype="application", subtype="pdf",
                             filename=message.attachment_name)
    return email


def _connect(config) -> smtplib.SMTP:
    cls = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    smtp = cls(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10)
    if config["MAIL_USE_TLS"]:
        smtp.starttls()
    if config["MAIL_USERNAME"]:
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    return smtp


def _failed(message: OutboxMessage, exc: Exception) -> None:
    message.last_error = f"{type(exc).__name__}: {exc}"[:500]
    message.next_attempt_at = utcnow() + min(timedelta(minutes=2 ** (message.attempts - 1)), MAX_BACKOFF)


def deliver_pending(limit: int = 100, *, now: bool = False) -> tuple[int, int]:
    """Send the messages that are due (``now``: every waiting one, as the treasurer's button asks) and commit
    their state; return (sent, failed)."""
    config = current_app.config
    query = db.select(OutboxMessage).where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)
    if not now:
        query = query.where(sa.or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= utcnow()))
    pending = db.session.scalars(query.order_by(OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)).all()
    if not pending:
        db.session.commit()  # let go of the snapshot (and, on PostgreSQL, of nothing locked)
        return 0, 0
    sent = failed = 0
    smtp = None
    try:
        if config["MAIL_SERVER"]:
            smtp = _connect(config)
        for message in pending:
            message.attempts += 1
            try:
                if smtp is None:
                    current_app.logger.info(
                        "Mail (no MAIL_SERVER set) to %s: %s\n%s",
                        message.to_address, message.subject, message.body,
                    )
                else:
                    smtp.send_message(_build(message))
                message.sent_at = utcnow()
                message.last_error = None
                sent += 1
            except (smtplib.SMTPException, OSError) as exc:
                _failed(message, exc)
                failed += 1
    except (smtplib.SMTPException, OSError) as exc:
        for message in pending:
            if message.sent_at is None:
                message.attempts += 1
                _failed(message, exc)
                failed += 1
        current_app.logger.warning("Mail server unreachable; %d message(s) kept in the outbox", failed)
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
    db.session.commit()
    return sent, failed


def waiting_messages(limit: int = 20) -> tuple[int, list[OutboxMessage]]:
    """How many messages wait to be sent, and the latest that failed (for the treasurer to see)."""
    waiting = db.session.scalar(db.select(db.func.count(OutboxMessage.id)).where(OutboxMessage.sent_at.is_(None)))
    failed = db.session.scalars(db.select(OutboxMessage).where(
        OutboxMessage.sent_at.is_(None), OutboxMessage.last_error.is_not(None))
        .order_by(OutboxMessage.id.desc()).limit(limit)).all()
    return waiting or 0, list(failed)
