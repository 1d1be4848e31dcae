"""Receipts and year-end statements: the PDFs, and the mail that carries them in the donor's language.

A receipt is numbered when its gift is booked (``next_receipt_seq``, per fund and year); it is mailed then,
again corrected after a refund or a lost dispute, or later when the fund's details stop being placeholders
(``send_held_receipts``). Functions flush; the caller commits (``send_due_statements`` yields so it can).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from fundapp.audit.services import record_change
from fundapp.donations.giving import DonationError, donor_locale
from fundapp.donations.models import Donation, Donor, Frequency, ReceiptCounter, StatementSent
from fundapp.extensions import begin_write, db, insert_or_merge
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.funds.services import receipt_placeholders, receipts_held
from fundapp.mail import OutboxMessage, outbox_row, public_link, queue_mail, queue_mails, render_receipts_with
from fundapp.money import format_cents
from fundapp.pdf_text import LANGUAGES, page_words, receipt_words, statement_words
from reports import receipt as receipt_pdf
from reports import statement as statement_pdf


def next_receipt_seq(fund: Fund, year: int) -> int:
    return next_receipt_seqs(fund, year, 1)[0]


def next_receipt_seqs(fund: Fund, year: int, count: int) -> range:
    """The next ``count`` receipt numbers of the fund's year, gapless: one upsert of the year's counter, whose
    row lock (SQLite: the write lock) holds until the transaction ends, so numbers follow commits in turn."""
    statement = insert_or_merge(ReceiptCounter).values(fund_id=fund.id, year=year, last=count)
    last = db.session.scalar(statement.on_conflict_do_update(
        index_elements=["fund_id", "year"], set_={"last": ReceiptCounter.last + statement.excluded.last})
        .returning(ReceiptCounter.last))
    return range(last - count + 1, last + 1)


def receipt_data(fund: Fund, donation: Donation) -> receipt_pdf.ReceiptData:
    return receipt_pdf.ReceiptData(
        fund_name=fund.name, legal_name=fund.legal_name, ein=fund.ein, legal_form=fund.legal_form,
        contact_email=fund.contact_email, receipt_number=donation.receipt_number,
        donor_name=donation.donor.name, gift_date=donation.received_on, amount_cents=donation.gross_cents,
        refunded_cents=donation.refunded_cents, disputed_cents=donation.disputed_cents, currency=donation.currency,
        method=donation.method,
        monthly=donation.frequency == Frequency.MONTHLY, dedication_kind=donation.dedication_kind,
        dedication_name=donation.dedication_name, language=donation.language if donation.language in
        LANGUAGES else "en", issued_at=clock.local(fund, donation.settled_at), postal_address=fund.postal_address,
        signatory_name=fund.signatory_name, signatory_title=fund.signatory_title,
        legal_form_wording=fund.legal_form_wording, page_words=page_words(donation.language),
        words=receipt_words(donation.language))


def receipt_for(fund: Fund, donation: Donation) -> bytes:
    """The receipt PDF; the same gift gives the same bytes until a refund or a lost dispute corrects it."""
    if donation.receipt_number is None:
        raise DonationError(_("This gift has no receipt yet: it has not been received."))
    return receipt_pdf.render(receipt_data(fund, donation))


def receipt_filename(donation: Donation) -> str:
    return f"receipt-{donation.receipt_number}.pdf"


def send_receipt(fund: Fund, donation: Donation) -> None:
    """Queue the receipt mail in the donor's language, in this transaction; the sender renders its PDF from the
    gift when it sends it (``render_receipt``), after this transaction commits. In production, none while the
    fund's EIN or contact is a placeholder (the fund page says so; the receipt stays downloadable)."""
    row = receipt_mail(fund, donation)
    if row is not None:
        queue_mails([row])


def receipt_mail(fund: Fund, donation: Donation) -> dict[str, Any] | None:
    """The receipt mail ``send_receipt`` queues, as an outbox row (``mail.queue_mails`` queues a batch's at
    once), or None: the donor left no email, or the receipt is held (marked on the gift)."""
    if not donation.donor.email:
        return None
    if receipts_held(fund):
        current_app.logger.warning("receipt %s held: the fund's %s is a placeholder (set it on /admin/fund)",
                                   donation.receipt_number, " and ".join(receipt_placeholders(fund)))
        donation.receipt_held = True
        return None
    with force_locale(donation.language):
        if donation.disputed_cents:
            subject = _("Corrected receipt %(number)s from %(fund)s", number=donation.receipt_number, fund=fund.name)
            body = _("Hello %(name)s,\n\nA dispute of the card payment for your gift of %(amount)s was decided "
                     "against the fund, so %(lost)s of it went back to the card and was not received. The "
                     "corrected receipt is attached.\n\n%(fund)s", name=donation.donor.name,
                     lost=format_cents(donation.disputed_cents, fund.currency, donor_locale(donation)),
                     amount=format_cents(donation.gross_cents, fund.currency, donor_locale(donation)), fund=fund.name)
        elif donation.refunded_cents:
            subject = _("Corrected receipt %(number)s from %(fund)s", number=donation.receipt_number, fund=fund.name)
            body = _("Hello %(name)s,\n\nWe refunded %(refunded)s of your gift of %(amount)s. The corrected "
                     "receipt is attached.\n\n%(fund)s", name=donation.donor.name,
                     refunded=format_cents(donation.refunded_cents, fund.currency, donor_locale(donation)),
                     amount=format_cents(donation.gross_cents, fund.currency, donor_locale(donation)), fund=fund.name)
        else:
            subject = _("Thank you: receipt %(number)s from %(fund)s", number=donation.receipt_number, fund=fund.name)
            body = _("Hello %(name)s,\n\nThank you for your gift of %(amount)s to %(fund)s. It goes to striking "
                     "workers who cannot cover rent, utilities, medicine or childcare. Your receipt is attached."
                     "\n\n%(fund)s", name=donation.donor.name,
                     amount=format_cents(donation.gross_cents, fund.currency, donor_locale(donation)), fund=fund.name)
        body += "\n\n" + _("Your gift and its receipt, any time: %(link)s",
                             link=public_link("donations.thanks", fund=fund, token=donation.token))
        if donation.frequency == Frequency.MONTHLY:
            body += "\n\n" + _("Your gift repeats every month. To stop it, or to see your gifts and receipts, "
                                "sign in to your donor page: %(link)s", link=public_link("donor.login", fund=fund))
    return outbox_row(donation.donor.email, subject, body, language=donation.language,
                      receipt=(receipt_filename(donation), donation.id), fund_id=fund.id)


def render_receipt(donation_id: int) -> bytes:
    """The receipt PDF of a gift as it stands, for the mail sender (``mail.render_receipts_with``)."""
    donation = db.session.get(Donation, donation_id)
    return receipt_for(db.session.get(Fund, donation.fund_id), donation)


render_receipts_with(render_receipt)


def send_held_receipts(fund: Fund) -> int:
    """Mail the receipts held while the fund's EIN or contact was a placeholder, now that both are set (the
    receipt as it stands today: corrected if the gift was refunded meanwhile). Returns how many were queued."""
    if receipts_held(fund):
        return 0
    # Claimed by one conditional UPDATE, so two workers tidying at once never mail a receipt twice: on
    # PostgreSQL the second waits for the first's row locks, re-reads `receipt_held` and claims nothing.
    waiting = db.select(Donation.id).where(Donation.fund_id == fund.id, Donation.receipt_held.is_(True)) \
        .order_by(Donation.id).limit(200).scalar_subquery()
    claimed = db.session.scalars(db.update(Donation).where(Donation.id.in_(waiting), Donation.receipt_held.is_(True))
                                 .values(receipt_held=False).returning(Donation.id)
                                 .execution_options(synchronize_session=False)).all()
    held = db.session.scalars(db.select(Donation).where(Donation.id.in_(claimed))
                              .order_by(Donation.id).execution_options(populate_existing=True)).all()
    for donation in held:
        send_receipt(fund, donation)
        record_change("donation.receipt_released", "donation", donation.id, fund_id=fund.id,
                      after={"receipt": donation.receipt_number})
    return len(held)


def donor_gifts(donor: Donor) -> list[Donation]:
    return list(db.session.scalars(db.select(Donation).where(
        Donation.donor_id == donor.id, Donation.receipt_seq.is_not(None)).order_by(Donation.received_on.desc(),
                                                                                   Donation.id.desc())))


def statement_years(donor: Donor) -> list[int]:
    return sorted({d.receipt_year for d in donor_gifts(donor)}, reverse=True)


def statement_for(fund: Fund, donor: Donor, year: int) -> bytes:
    """The year-end statement PDF: each gift of ``year`` with its receipt number, and the total given."""
    gifts = [d for d in donor_gifts(donor) if d.receipt_year == year]
    if not gifts:
        raise DonationError(_("There are no gifts from you in %(year)s.", year=year))
    language = donor.language if donor.language in LANGUAGES else "en"
    return statement_pdf.render(statement_pdf.StatementData(
        fund_name=fund.name, legal_name=fund.legal_name, ein=fund.ein, legal_form=fund.legal_form,
        contact_email=fund.contact_email, donor_name=donor.name, year=year, currency=fund.currency,
        language=language, issued_at=datetime(year + 1, 1, 1, tzinfo=clock.zone(fund)),
        gifts=[statement_pdf.StatementGift(d.received_on, d.receipt_number, d.gross_cents, d.refunded_cents,
                                           d.disputed_cents)
               for d in sorted(gifts, key=lambda d: (d.received_on, d.id))],
        page_words=page_words(language), words=statement_words(language)))


def donors_due_a_statement(fund: Fund, year: int) -> list[int]:
    """Ids of donors with an email and gifts in ``year`` whose statement has not been mailed yet."""
    sent = db.select(StatementSent.donor_id).filter_by(fund_id=fund.id, year=year)
    return list(db.session.scalars(
        db.select(Donor.id).join(Donation, Donation.donor_id == Donor.id)
        .where(Donor.fund_id == fund.id, Donor.email != "", Donation.receipt_year == year,
               Donor.id.not_in(sent)).distinct().order_by(Donor.id)))


@dataclass
class StatementProgress:
    queued: int  #: statements of the year in the outbox (or already mailed): StatementSent rows
    delivered: int  #: of those, handed to the mail server by the worker
    due: int  #: donors still due one


def statement_progress(fund: Fund, year: int) -> StatementProgress:
    """How far the year's statements have got: queued by the page or the command, delivered by the worker."""
    queued = db.session.scalar(db.select(db.func.count(StatementSent.id)).filter_by(fund_id=fund.id, year=year))
    # The outbox knows no fund or donor: a statement is the message with this year's statement attached,
    # sent to the address of a donor of this fund who has one queued.
    delivered = db.session.scalar(
        db.select(db.func.count(db.distinct(OutboxMessage.to_address)))
        .join(Donor, Donor.email == OutboxMessage.to_address)
        .join(StatementSent, StatementSent.donor_id == Donor.id)
        .where(StatementSent.fund_id == fund.id, StatementSent.year == year, Donor.fund_id == fund.id,
               OutboxMessage.attachment_name == statement_filename(year), OutboxMessage.sent_at.is_not(None)))
    queued = queued or 0
    return StatementProgress(queued=queued, delivered=min(delivered or 0, queued),
                             due=len(donors_due_a_statement(fund, year)))


def statement_filename(year: int) -> str:
    return f"statement-{year}.pdf"


def send_due_statements(fund: Fund, year: int, limit: int | None = None) -> Iterator[bool]:
    """Queue the statements still due, one donor at a time, yielding after each so the caller commits it:
    a run stopped anywhere (a closed page, a killed command) resumes where it stopped, and nobody gets two.
    The worker mails what is queued (``deliver_pending``); nothing here waits on the mail server."""
    for donor_id in donors_due_a_statement(fund, year)[:limit]:
        yield send_statement(fund, db.session.get(Donor, donor_id), year)


def send_statement(fund: Fund, donor: Donor, year: int) -> bool:
    """Queue one donor's statement with its PDF and mark it queued, in one short write; False if it was
    queued already (by another page, the command, a run stopped earlier).

    The PDF is built before the write lock is taken: on SQLite one writer at a time holds it, and the page,
    the command and the worker take turns only if each holds it for a moment (busy_timeout)."""
    if _statement_queued(fund, donor, year):  # a plain read: no PDF built for someone another run has done
        return False
    pdf = statement_for(fund, donor, year)
    with force_locale(donor.language):
        subject = _("Your gifts to %(fund)s in %(year)s", fund=fund.name, year=year)
        body = _("Hello %(name)s,\n\nThank you for standing with striking workers in %(year)s. Your statement "
                 "of gifts for the year is attached, for your records and your taxes.\n\n%(fund)s",
                 name=donor.name, year=year, fund=fund.name)
        body += "\n\n" + _("Your gifts, receipts and statements, any time: %(link)s", link=public_link("donor.login", fund=fund))
    begin_write()
    try:
        with db.session.begin_nested():  # the unique (fund, donor, year) decides who queues it
            db.session.add(StatementSent(fund_id=fund.id, donor_id=donor.id, year=year))
    except IntegrityError:
        return False
    queue_mail(donor.email, subject, body, attachment=(statement_filename(year), pdf), language=donor.language,
               fund_id=fund.id)
    return True


def _statement_queued(fund: Fund, donor: Donor, year: int) -> bool:
    return db.session.scalar(db.select(StatementSent.id).filter_by(
        fund_id=fund.id, donor_id=donor.id, year=year)) is not None
