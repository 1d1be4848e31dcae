"""Outgoing mail through an outbox.

A service queues a message in the same transaction as the change it reports
(``queue_mail``); after the commit, ``deliver_pending`` sends what is waiting over
SMTP. If the SMTP server is down the message stays in the outbox and is tried
again later by the worker (``flask fund worker``), the next request that sends
mail, or ``flask fund send-mail``: after 1, 2, 4 ... minutes (at most six hours),
``MAX_ATTEMPTS`` times in all, which rides out a mail outage of a working day.
Several senders never send one message twice: each claims the messages it
sends in a short write of its own before talking to the mail server (a lease,
``CLAIM_LEASE``), and marks each sent as soon as it has gone.
No request sends: a request queues and commits, and the worker sends (``flask fund worker`` in production,
a thread of the same process in local mode), so a slow or hanging mail server never holds a page; the worker
waits at most ``MAIL_TIMEOUT`` seconds for it to connect or answer. The treasurer's "send now" button only
makes the waiting messages due (``retry_now``); the commands send themselves, within the same timeout.
Without ``MAIL_SERVER`` (local mode, or production with ``MAIL_TO_LOG=1``) messages are written to the log
instead, with every link that signs someone in (reset, welcome, donor page) redacted: the log is read by
more people than the mailbox. Only the redacted plain text is logged, never the HTML part; and with JSON logs
(``LOG_FORMAT=json``, production's) not even that: the line names the outbox message and its subject, no
recipient and no body (they stay in the outbox table).

Every message goes as plain text with an HTML alternative (``html_part``), built when it is sent from the
stored subject and text: the words have one source, and the HTML only lays them out (the fund's name as a
header, paragraphs, every address a link, the first link as the button to act on, a footer).
"""
from __future__ import annotations

import re
import smtplib
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy.orm import Mapped, mapped_column

from fundapp.extensions import UTCDateTime, begin_write, db, utcnow

MAX_ATTEMPTS = 10
MAX_BACKOFF = timedelta(hours=6)
#: How long a sender may take to send the messages it claimed before another may try them (it died).
CLAIM_LEASE = timedelta(minutes=15)


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
    #: A receipt mail queued as it is booked carries the gift, not yet its PDF: the sender renders the receipt
    #: the first time it tries the message and keeps it in ``attachment`` (a retry sends the same file).
    receipt_donation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("donations.id"), index=True)
    #: The fund the message is about (None: a person's account, which is the installation's): its treasurer sees
    #: it waiting, and its HTML part names that fund.
    fund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("funds.id"), index=True)
    #: The reader's language ("en", "es"): the HTML part's ``lang`` and the words of its button and footer.
    language: Mapped[str | None] = mapped_column(sa.String(5))


def outbox_row(to: str, subject: str, body: str, attachment: tuple[str, bytes] | None = None,
               language: str | None = None, *, receipt: tuple[str, int] | None = None,
               fund_id: int | None = None) -> dict[str, Any]:
    """One outbox message's columns (``queue_mail`` explains them), for ``queue_mail`` or ``queue_mails``."""
    if language is None:
        locale = get_locale()
        language = locale.language if locale is not None else None
    name = attachment[0] if attachment else receipt[0] if receipt else None
    return {"to_address": to, "subject": subject, "body": body, "language": language, "attachment_name": name,
            "attachment": attachment[1] if attachment else None,
            "receipt_donation_id": receipt[1] if receipt else None, "fund_id": fund_id}


def queue_mail(to: str, subject: str, body: str, attachment: tuple[str, bytes] | None = None,
               language: str | None = None, *, receipt: tuple[str, int] | None = None,
               fund_id: int | None = None) -> OutboxMessage:
    """Put a message in the outbox (flushes, never commits); ``attachment`` is (filename, PDF bytes); ``receipt``
    is (filename, donation id) for a receipt the sender renders when it first tries the message
    (``render_receipts_with``), so a booking never waits on a PDF. ``language`` is the reader's; by default, the
    language in force where the mail is queued (a caller that writes the words under ``force_locale`` and queues
    after the block passes it). ``fund_id`` is the fund the message is about (None for a person's account)."""
    message = OutboxMessage(**outbox_row(to, subject, body, attachment, language, receipt=receipt, fund_id=fund_id))
    db.session.add(message)
    db.session.flush()
    return message


def queue_mails(rows: list[dict[str, Any]]) -> None:
    """Put many messages (``outbox_row``) in the outbox in one statement (executemany: no ids read back), in
    this transaction, for a caller that queues a batch's mail at once (a batch of booked gifts)."""
    if rows:
        db.session.flush()  # what the rows name (their gifts) is written first
        db.session.execute(sa.insert(OutboxMessage.__table__), rows)


#: Renders a gift's receipt PDF by the donation's id (set by ``fundapp.donations.receipts``, which stands above
#: mail): the sender attaches it to a receipt mail queued without its PDF.
_receipt_renderer: Callable[[int], bytes] | None = None


def render_receipts_with(renderer: Callable[[int], bytes]) -> None:
    global _receipt_renderer
    _receipt_renderer = renderer


def _receipt_to_attach(message: OutboxMessage) -> bytes | None:
    """The receipt PDF a message still lacks (rendered now, from the gift as it stands), or None."""
    if message.receipt_donation_id is None or message.attachment is not None:
        return None
    if _receipt_renderer is None:
        raise RuntimeError("no receipt renderer: fundapp.donations.receipts was not imported")
    return _receipt_renderer(message.receipt_donation_id)


def before_signature(body: str, paragraph: str, signature: str) -> str:
    """Put ``paragraph`` (say, the link to act on) above the message's closing ``signature`` line, where a reader
    looks for it, rather than under the sign-off."""
    closing = "\n\n" + signature
    if signature and body.endswith(closing):
        return body[:-len(closing)] + "\n\n" + paragraph + closing
    return body + "\n\n" + paragraph


def public_link(endpoint: str, *, fund=None, **values) -> str:
    """The public address of a page of ``fund``, for a mail: ``BASE_URL`` and the page's path, under
    ``/f/<slug>`` for a fund other than the installation's own (``funds.mount.fund_path``). Built without a
    request, since mail is also queued by the event worker and by commands; without ``fund``, the request's
    fund (the installation's own outside a request)."""
    from fundapp.funds.mount import fund_path, requested_slug

    slug = fund.slug if fund is not None else requested_slug()
    return current_app.config["BASE_URL"] + fund_path(slug, current_app.url_map.bind("localhost").build(endpoint,
                                                                                                        values))


#: The pages whose links sign someone in (a password reset or welcome link, a donor's sign-in link).
SIGN_IN_LINK_ENDPOINTS = ("accounts.reset_password", "donor.follow_link")
_URL = re.compile(r"https?://[^\s<>\"']+")
#: A signed token in a link (itsdangerous: payload.timestamp.signature), whatever page it opens.
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{8,}")
REDACTED = "[sign-in link removed from the log]"


def redact_sign_in_links(text: str) -> str:
    """The text with every link that would sign someone in replaced (for the log)."""
    adapter = current_app.url_map.bind("localhost")
    prefixes = tuple(adapter.build(endpoint, {"token": "T"})[:-1]  # nosec B105 # a stand-in to find the path
                     for endpoint in SIGN_IN_LINK_ENDPOINTS if endpoint in current_app.view_functions)

    def replace(match: re.Match) -> str:
        url = match.group(0)
        path = re.sub(r"^https?://[^/]+", "", url)
        return REDACTED if path.startswith(prefixes) or _TOKEN.search(url) else url

    return _URL.sub(replace, text)


# --- the HTML part --------------------------------------------------------------------------------


def action_link(body: str) -> str | None:
    """The link to act on: the first address in the text (each mail's wording puts the link it is about first)."""
    match = _URL.search(body)
    return _strip_trailing(match.group(0)) if match else None


def _strip_trailing(url: str) -> str:
    """An address as a reader means it: a full stop or bracket right after it ends the sentence, not the link."""
    return url.rstrip(".,;:!?)]")


def _linked(text: str) -> Markup:
    """``text`` escaped, its line breaks kept, and every address in it a link."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = _strip_trailing(match.group(0))
        out.append(escape(text[last:match.start()]))
        out.append(Markup('<a href="{0}" style="color:#1a56a0;word-break:break-all">{0}</a>').format(url))
        last = match.start() + len(url)
    out.append(escape(text[last:]))
    return Markup("<br>\n").join(Markup("").join(out).split("\n"))


def html_part(subject: str, body: str, *, fund_name: str | None = None, language: str | None = None,
              base_url: str | None = None) -> str:
    """The HTML alternative of a plain-text mail: one narrow column with inline styles only (no stylesheet,
    image or script, which mail clients drop or block), the fund's name as a header, each paragraph of the
    text escaped with its addresses as links, the first link (``action_link``) again as a button under its
    paragraph, and a footer naming the fund. Words of its own (button, footer) are in ``language``."""
    action = action_link(body)
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
    blocks, button_placed = [], False
    for paragraph in paragraphs:
        alone = _strip_trailing(paragraph.strip()) == action
        if not (alone and not button_placed):
            blocks.append(("text", _linked(paragraph)))
        if action and not button_placed and action in paragraph:
            blocks.append(("button", action))
            button_placed = True
    with force_locale(language or current_app.config["BABEL_DEFAULT_LOCALE"]):
        template = current_app.jinja_env.get_template("emails/message.html")
        return template.render(subject=subject, fund=fund_name, lang=language, blocks=blocks,
                               button_label=_("Open this page"),
                               footer=(_("This message was sent by %(fund)s.", fund=fund_name) if fund_name
                                       else _("This message was sent by the hardship fund.")),
                               base_url=base_url)


def _fund_name(fund_id: int | None) -> str | None:
    """The name of the fund the message is about, else of the installation's own (its settings may have renamed
    it since it started)."""
    from fundapp.funds.models import Fund

    defaults = current_app.config.get("FUND_DEFAULTS") or {}
    name = db.session.scalar(db.select(Fund.name).where(Fund.id == fund_id) if fund_id is not None
                             else db.select(Fund.name).filter_by(slug=defaults.get("slug")))
    return name or defaults.get("name")


def _build(message: OutboxMessage) -> EmailMessage:
    """The message as sent: multipart/alternative with the plain text first and its HTML second (a client
    shows the last part it can), then the attachment, if any (multipart/mixed around both)."""
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(idstring=f"outbox{message.id}")
    email.set_content(message.body)
    email.add_alternative(html_part(message.subject, message.body, fund_name=_fund_name(message.fund_id),
                                    language=message.language, base_url=current_app.config["BASE_URL"]),
                          subtype="html", cte="base64")  # its lines are long: base64 rather than "=3D" everywhere
    if message.attachment is not None:
        email.add_attachment(message.attachment, maintype="application", subtype="pdf",
                             filename=message.attachment_name)
    return email


def _connect(config) -> smtplib.SMTP:
    cls = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    # The timeout covers the connection and every later read and write on it (the greeting, each reply).
    smtp = cls(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"])
    if config["MAIL_USE_TLS"]:
        smtp.starttls()
    if config["MAIL_USERNAME"]:
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    return smtp


def _failed(message: OutboxMessage, exc: Exception) -> None:
    message.last_error = f"{type(exc).__name__}: {exc}"[:500]
    message.next_attempt_at = utcnow() + min(timedelta(minutes=2 ** (message.attempts - 1)), MAX_BACKOFF)


def _due(now: bool):
    """Messages waiting to be sent; a message another sender has claimed (``next_attempt_at`` set to the end of
    its lease, no error yet) is never due, even ``now``."""
    waiting = [OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS]
    ready = [OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= utcnow()]
    if now:
        ready.append(OutboxMessage.last_error.is_not(None))  # waiting out a back-off after a failure
    return sa.and_(*waiting, sa.or_(*ready))


def _claim(limit: int, now: bool) -> list[int]:
    """Take up to ``limit`` due messages for this sender in one short write and commit it: each is counted as
    an attempt and leased for ``CLAIM_LEASE``, so another sender (the worker, a request, a command) skips it
    while this one sends. A sender that dies mid-send leaves its messages to be tried when the lease ends."""
    if db.session.scalar(db.select(OutboxMessage.id).where(_due(now)).limit(1)) is None:
        db.session.commit()  # let go of the snapshot; nothing to send, and no write lock taken for nothing
        return []
    begin_write()
    ids = db.session.scalars(db.select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.id).limit(limit)
                             .with_for_update(skip_locked=True)).all()
    claimed = db.session.scalars(
        db.update(OutboxMessage).where(OutboxMessage.id.in_(ids), _due(now))
        .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=utcnow() + CLAIM_LEASE, last_error=None)
        .returning(OutboxMessage.id).execution_options(synchronize_session=False)).all() if ids else []
    db.session.commit()
    return sorted(claimed)


def _record(message_id: int, error: Exception | None, receipt: bytes | None = None) -> None:
    """Write down at once, in a short write of its own, that one message went (or why it did not), with the
    receipt rendered for it, so a retry sends the same file."""
    begin_write()
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    if receipt is not None and message.attachment is None:
        message.attachment = receipt
    if error is None:
        message.sent_at, message.last_error, message.next_attempt_at = utcnow(), None, None
    else:
        _failed(message, error)
    db.session.commit()


def deliver_pending(limit: int = 100, *, now: bool = False) -> tuple[int, int]:
    """Send the messages that are due (``now``: every waiting one, as the treasurer's button asks) and commit
    their state; return (sent, failed).

    Nothing is held while the mail server talks: the messages are claimed first (one short write), then sent,
    and each is marked sent as soon as it is. So the page, the command and any number of workers may send at
    once, on SQLite too (which has no row locks), and no message goes twice."""
    config = current_app.config
    claimed = _claim(limit, now)
    if not claimed:
        return 0, 0
    sent = failed = 0
    smtp = None
    try:
        if config["MAIL_SERVER"]:
            smtp = _connect(config)
        for message_id in claimed:
            message = db.session.get(OutboxMessage, message_id)
            try:
                receipt = _receipt_to_attach(message)
            except Exception as exc:  # noqa: BLE001 - a receipt that will not render: this message waits, not the rest
                current_app.logger.exception("Mail %d: its receipt could not be rendered", message_id)
                db.session.rollback()
                _record(message_id, exc)
                failed += 1
                continue
            if receipt is not None:
                message.attachment = receipt
            try:
                if smtp is None and config.get("LOG_FORMAT") == "json":  # a log others read: no recipient, no body
                    current_app.logger.info("Mail (no MAIL_SERVER set) %d written to the outbox only: %s",
                                            message.id, message.subject)
                elif smtp is None:
                    current_app.logger.info(
                        "Mail (no MAIL_SERVER set) to %s: %s\n%s",
                        message.to_address, message.subject, redact_sign_in_links(message.body),
                    )
                else:
                    smtp.send_message(_build(message))
            except (smtplib.SMTPException, OSError) as exc:
                db.session.rollback()
                _record(message_id, exc, receipt)
                failed += 1
            else:
                db.session.rollback()  # end the read snapshot before the write
                _record(message_id, None, receipt)
                sent += 1
    except (smtplib.SMTPException, OSError) as exc:
        db.session.rollback()
        begin_write()
        for message in db.session.scalars(db.select(OutboxMessage).where(
                OutboxMessage.id.in_(claimed), OutboxMessage.sent_at.is_(None))):
            _failed(message, exc)
            failed += 1
        db.session.commit()
        current_app.logger.warning("Mail server unreachable; %d message(s) kept in the outbox", failed)
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
    return sent, failed


def retry_now() -> int:
    """Make every message waiting out a back-off after a failure due at once (the treasurer's "send now"): the
    worker sends them on its next round, so the page never waits on the mail server. Flushes; returns how
    many wait to be sent."""
    db.session.execute(db.update(OutboxMessage).where(
        OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS,
        OutboxMessage.last_error.is_not(None)).values(next_attempt_at=None)
        .execution_options(synchronize_session=False))
    return db.session.scalar(db.select(db.func.count(OutboxMessage.id)).where(
        OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)) or 0


def waiting_messages(limit: int = 20, *, fund_id: int | None = None,
                     with_no_fund: bool = True) -> tuple[int, list[OutboxMessage]]:
    """How many messages wait to be sent, and the latest that failed: of the fund ``fund_id`` and, ``with_no_fund``,
    those about no fund (a person's account), for that fund's treasurer to see; or every one (the host's)."""
    unsent = OutboxMessage.sent_at.is_(None)
    if fund_id is not None:
        mine = OutboxMessage.fund_id == fund_id
        unsent = sa.and_(unsent, sa.or_(mine, OutboxMessage.fund_id.is_(None)) if with_no_fund else mine)
    waiting = db.session.scalar(db.select(db.func.count(OutboxMessage.id)).where(unsent))
    failed = db.session.scalars(db.select(OutboxMessage).where(unsent, OutboxMessage.last_error.is_not(None))
                                .order_by(OutboxMessage.id.desc()).limit(limit)).all()
    return waiting or 0, list(failed)


# --- requests answered by the worker ------------------------------------------------------------
#
# A visitor asks for a mail about an address (a password reset, a donor's sign-in link): the page stores the
# request and answers at once, the same way whether or not the address is known; the worker looks the address
# up later and queues the mail, if any. So neither the page's words nor its time say who has an account.


class MailRequest(db.Model):
    __tablename__ = "mail_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Which handler answers it (``REQUEST_HANDLERS``).
    kind: Mapped[str] = mapped_column(sa.String(30))
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    #: The address as typed (normalised by the page); kept only until the worker answers.
    email: Mapped[str] = mapped_column(sa.String(254))
    language: Mapped[str] = mapped_column(sa.String(2), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: kind -> handler(fund_id, email, language): queues the mail (or nothing) for one request; flushes, never commits.
REQUEST_HANDLERS: dict = {}


def request_handler(kind: str):
    """Register the function that answers requests of ``kind`` (the domain that owns them does, at import)."""
    def register(function):
        REQUEST_HANDLERS[kind] = function
        return function
    return register


def queue_request(kind: str, fund_id: int, email: str, language: str = "en") -> None:
    """Store a request for the worker (one INSERT, whatever the address): flushes, never commits."""
    db.session.add(MailRequest(kind=kind, fund_id=fund_id, email=(email or "").strip().lower()[:254],
                               language=language))
    db.session.flush()


def answer_requests(limit: int = 100) -> int:
    """Answer the waiting requests (each once, even with several workers) and commit; return how many.
    A request whose handler fails is answered by none: the batch is rolled back and tried again later."""
    if db.session.scalar(db.select(MailRequest.id).limit(1)) is None:
        db.session.commit()
        return 0
    begin_write()
    requests = db.session.scalars(db.select(MailRequest).order_by(MailRequest.id).limit(limit)
                                  .with_for_update(skip_locked=True)).all()
    for request in requests:
        handler = REQUEST_HANDLERS.get(request.kind)
        if handler is not None:
            handler(request.fund_id, request.email, request.language)
        db.session.delete(request)
    db.session.commit()
    return len(requests)
