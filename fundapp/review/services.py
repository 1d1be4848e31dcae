"""Trustees' decisions and payments, under the fund's rules and the funds guard.

- A trustee never acts on their own application (recusal is recorded).
- Above the rules' threshold a grant needs ``approvals_needed`` approvals of the same amount from
  different trustees; only the last one books it.
- Every change of a grant (question, approval, denial, payment, batch, void) first takes the
  application's row lock (``lock_case``: SELECT ... FOR UPDATE on PostgreSQL, the write lock on SQLite)
  and reads the row again, so what it checks (status, approvals, what is owed) is what it writes on.
  Locks are taken in one order: applications (by id), then the fund, then the audit trail's lock.
- Booking an approval then takes the fund's lock (a no-op UPDATE of the fund row) and checks
  available-to-grant, so two trustees approving at once can never both spend the same money.
- A payment books Liabilities:GrantsPayable against Assets:Bank and adds to ``amount_paid_cents`` in
  SQL, on condition that it stays within the approved amount; a void posts the reversal. PostgreSQL
  refuses at commit any grant whose non-voided payments differ from ``amount_paid_cents`` or exceed
  what was approved (migration 0014). Functions flush; the caller commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _

from fundapp.accounts.models import User
from fundapp.applications.models import Application, ApplicationMessage
from fundapp.applications.states import Status, transition
from fundapp.audit.services import record_change
from fundapp.extensions import db, utcnow
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.mail import before_signature, public_link, queue_mail
from fundapp.money import money_text
from fundapp.review.errors import AlreadyDone, InsufficientFunds, Recused, ReviewError, StepUpNeeded  # noqa: F401
from fundapp.review.models import Approval, CaseNote, CaseReviewer, GrantPayment
from fundapp.review.queries import approvals_needed, reviewer_ids
from fundapp.review.recusal import refuse_if_recused

DENIAL_REASONS = ("not_eligible", "cap_reached", "not_hardship", "incomplete", "funds_exhausted", "other")
PAYMENT_METHODS = ("cheque", "ach", "zelle", "cash")


def lock_case(application: Application) -> Application:
    """Take the application's row lock until the transaction ends, and read the row again under it.

    PostgreSQL: SELECT ... FOR UPDATE. SQLite has one writer: a no-op UPDATE takes the database's write
    lock (waiting for another writer), and the SELECT after it sees that writer's commit.
    """
    query = db.select(Application).where(Application.id == application.id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Application)
    else:
        db.session.execute(db.text("UPDATE applications SET status = status WHERE id = :id"), {"id": application.id})
    return db.session.scalars(query.execution_options(populate_existing=True)).one()


def _under_review(application: Application, actor: User) -> None:
    """A submitted application moves into review when a trustee first acts on it."""
    if application.status == Status.SUBMITTED:
        transition(application, Status.IN_REVIEW, actor=actor)
    if application.status != Status.IN_REVIEW:
        raise ReviewError(_("This application is not waiting for a decision."))


def lock_fund(fund: Fund) -> None:
    """Serialise decisions that spend the fund's money (see the module docstring)."""
    db.session.execute(db.update(Fund).where(Fund.id == fund.id).values(reserve_cents=Fund.reserve_cents)
                       .execution_options(synchronize_session=False))


def ask_question(fund: Fund, application: Application, body: str, *, actor: User) -> None:
    lock_case(application)
    refuse_if_recused(application, actor)
    _under_review(application, actor)
    if not body.strip():
        raise ReviewError(_("Write the question for the member."), "body")
    db.session.add(ApplicationMessage(application_id=application.id, author_id=actor.id, kind="question",
                                      body=body.strip()[:5000]))
    transition(application, Status.INFO_REQUESTED, actor=actor)
    db.session.flush()
    _tell_member(fund, application, lambda user: (
        _("The trustees have a question about your application #%(id)s", id=application.id),
        _("Hello %(name)s,\n\nThe trustees have a question about your application:\n\n%(question)s\n\nPlease "
          "answer it on your application's page (the link is below).\n\n%(fund)s", name=user.name,
          question=body.strip()[:2000], fund=fund.name)))


def approve(fund: Fund, application: Application, amount_cents: int, *, actor: User, note: str = "",
            criteria: str = "", decided_on: date | None = None) -> bool:
    """Record this trustee's approval; True once the grant is approved (and booked).

    ``decided_on`` books a decision taken earlier on that day (bringing in a fund's paper records, and
    the demo); the pages always book today. The N-th distinct approval books it, whoever commits last:
    each approval is counted under the application's lock.
    """
    lock_case(application)
    refuse_if_recused(application, actor)
    earlier = list(db.session.scalars(db.select(Approval).filter_by(application_id=application.id)
                                      .order_by(Approval.id)))
    if any(a.trustee_id == actor.id for a in earlier):
        if application.status in (Status.APPROVED, Status.PARTIALLY_APPROVED, Status.PAID):
            raise AlreadyDone(_("This application is already approved; nothing more was done."))
        raise AlreadyDone(_("You have already approved this application; another trustee must confirm it."))
    _under_review(application, actor)
    rules = application.rules
    if not 0 < amount_cents <= application.amount_requested_cents:
        raise ReviewError(_("Approve between $0.01 and the %(asked)s asked for.",
                            asked=money_text(application.amount_requested_cents, fund.currency)), "amount")
    if amount_cents < application.amount_requested_cents and not note.strip():
        raise ReviewError(_("Tell the member why the amount is less than they asked for."), "note")
    if earlier and earlier[0].amount_cents != amount_cents:
        raise ReviewError(_("The first trustee approved %(amount)s. Confirm that amount, or ask a question or "
                            "deny instead.", amount=money_text(earlier[0].amount_cents, fund.currency)), "amount")
    db.session.add(Approval(application_id=application.id, trustee_id=actor.id, amount_cents=amount_cents,
                            note=note.strip()[:1000], criteria=criteria.strip()[:1000]))
    db.session.flush()
    needed = approvals_needed(rules, amount_cents)
    record_change("application.approval", "application", application.id, actor=actor, fund_id=fund.id,
                  after={"amount_cents": amount_cents, "approvals": len(earlier) + 1, "needed": needed,
                         "criteria": criteria.strip()[:200]})
    if len(earlier) + 1 < needed:
        return False
    lock_fund(fund)
    available = ledger.available_to_grant(fund)
    if amount_cents > available:
        raise InsufficientFunds(_("The fund has %(available)s available to grant, less than %(amount)s. Nothing "
                                  "was approved.", available=money_text(max(available, 0), fund.currency),
                                  amount=money_text(amount_cents, fund.currency)), "amount")
    ledger.post_entry(fund, entry_date=decided_on or clock.today(fund),
                      memo=f"Hardship grant approved, application {application.id}",
                      source_kind="grant.approval", source_id=application.id, actor=actor,
                      postings=[("Expenses:HardshipGrants", amount_cents), ("Liabilities:GrantsPayable", -amount_cents)])
    application.amount_approved_cents = amount_cents
    application.decision_reason = note.strip()[:500]
    partial = amount_cents < application.amount_requested_cents
    transition(application, Status.PARTIALLY_APPROVED if partial else Status.APPROVED, actor=actor,
               amount_cents=amount_cents)
    db.session.flush()
    _tell_member(fund, application, lambda user: (
        _("Your application #%(id)s is approved", id=application.id),
        _("Hello %(name)s,\n\nThe trustees approved %(amount)s for your application. %(note)s\n\nThe payment "
          "follows; your applications page shows when it is made.\n\n%(fund)s", name=user.name,
          amount=money_text(amount_cents, fund.currency), note=note.strip(), fund=fund.name)))
    return True


def deny(fund: Fund, application: Application, reason: str, *, actor: User, note: str = "") -> None:
    lock_case(application)
    refuse_if_recused(application, actor)
    _under_review(application, actor)
    if reason not in DENIAL_REASONS:
        raise ReviewError(_("Choose the reason for the denial."), "reason")
    if not note.strip():
        raise ReviewError(_("Write a short note to the member explaining the decision."), "note")
    application.decision_reason = note.strip()[:500]
    transition(application, Status.DENIED, actor=actor, reason=reason)
    db.session.flush()
    _tell_member(fund, application, lambda user: (
        _("A decision on your application #%(id)s", id=application.id),
        _("Hello %(name)s,\n\nThe trustees could not approve your application: %(note)s\n\nIf your situation "
          "changes you can apply again. Questions: %(email)s\n\n%(fund)s", name=user.name, note=note.strip(),
          email=fund.contact_email, fund=fund.name)))


def record_payment(fund: Fund, application: Application, *, amount_cents: int, method: str, reference: str,
                   paid_on: date, actor: User, step_up: StepUp | None = None) -> GrantPayment:
    """Pay all or part of an approved grant (to the member or to the payee); overpaying is refused.

    With ``step_up`` (the pages always pass it), a payment that takes what left the grant within the
    fresh-code window above the threshold needs a fresh authenticator code, however it is split.
    """
    lock_case(application)
    if application.status not in (Status.APPROVED, Status.PARTIALLY_APPROVED):
        if application.status == Status.PAID:
            raise AlreadyDone(_("This grant is already paid in full; nothing more was paid."))
        raise ReviewError(_("Only an approved grant can be paid."))
    if method not in PAYMENT_METHODS:
        raise ReviewError(_("Choose how it was paid."), "method")
    if paid_on > clock.today(fund):
        raise ReviewError(_("Record a payment once it is made: the date cannot be in the future."), "paid_on")
    left = (application.amount_approved_cents or 0) - application.amount_paid_cents
    if not 0 < amount_cents <= left:
        raise ReviewError(_("You can pay between $0.01 and the %(left)s still owed on this grant.",
                            left=money_text(left, fund.currency)), "amount")
    if step_up is not None:
        confirm_identity(actor, amount_cents + recently_paid(application, step_up.window), step_up, fund)
    payee = application.payee_name if application.pays_third_party else \
        db.session.get(User, application.applicant_id).name
    payment = GrantPayment(application_id=application.id, amount_cents=amount_cents, method=method,
                           reference=reference.strip()[:100], paid_on=paid_on, payee_name=payee,
                           recorded_by_id=actor.id)
    db.session.add(payment)
    db.session.flush()
    ledger.post_entry(fund, entry_date=paid_on, memo=f"Grant payment to {payee} ({method} {payment.reference})".strip(),
                      source_kind="grant.payment", source_id=payment.id, actor=actor,
                      postings=[("Liabilities:GrantsPayable", amount_cents), ("Assets:Bank", -amount_cents)])
    _add_to_paid(application, amount_cents)
    if application.amount_paid_cents == application.amount_approved_cents:
        transition(application, Status.PAID, actor=actor, payment=payment.id)
    else:
        record_change("application.instalment", "application", application.id, actor=actor, fund_id=fund.id,
                      after={"payment": payment.id, "amount_cents": amount_cents,
                             "paid_cents": application.amount_paid_cents})
    db.session.flush()
    _tell_member(fund, application, lambda user: (
        _("A payment on your grant #%(id)s", id=application.id),
        _("Hello %(name)s,\n\n%(amount)s was paid to %(payee)s by %(method)s on %(date)s.\n\n%(fund)s",
          name=user.name, amount=money_text(amount_cents, fund.currency), payee=payee, method=method,
          date=paid_on.isoformat(), fund=fund.name)))
    return payment


def _add_to_paid(application: Application, cents: int) -> None:
    """Add ``cents`` (negative for a void) to what was paid, in SQL and only while 0 <= paid <= approved: never
    a total computed in Python from a value read earlier."""
    done = db.session.execute(
        db.update(Application)
        .where(Application.id == application.id,
               Application.amount_paid_cents + cents >= 0,
               Application.amount_paid_cents + cents <= Application.amount_approved_cents)
        .values(amount_paid_cents=Application.amount_paid_cents + cents)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise ReviewError(_("The amount paid on this grant changed meanwhile; nothing was recorded. Look at the "
                            "case again."))
    db.session.expire(application, ["amount_paid_cents", "updated_at"])


def void_payment(fund: Fund, payment: GrantPayment, *, reason: str, actor: User) -> None:
    """Cancel a recorded payment (a bounced cheque, a mistake): its entry is reversed, the grant is owed again."""
    application = lock_case(db.session.get(Application, payment.application_id))
    db.session.refresh(payment)  # read again under the lock: another void may have just committed
    if payment.voided_at is not None:
        raise AlreadyDone(_("This payment is already void."))
    if not reason.strip():
        raise ReviewError(_("Say why the payment is void."), "reason")
    entry = ledger.find_entry(fund, "grant.payment", payment.id)
    ledger.reverse_entry(entry, entry_date=clock.today(fund), memo=f"Void of grant payment {payment.id}: {reason.strip()}",
                         actor=actor)
    payment.voided_at, payment.void_reason = utcnow(), reason.strip()[:500]
    _add_to_paid(application, -payment.amount_cents)
    if application.status == Status.PAID:
        back = (Status.PARTIALLY_APPROVED if application.amount_approved_cents < application.amount_requested_cents
                else Status.APPROVED)
        transition(application, back, actor=actor, voided_payment=payment.id)
    record_change("payment.void", "grant_payment", payment.id, actor=actor, fund_id=fund.id,
                  after={"reason": payment.void_reason, "amount_cents": payment.amount_cents})
    db.session.flush()


@dataclass(frozen=True)
class StepUp:
    """When money leaving needs a fresh authenticator code: above ``above_cents`` in total, counting what was
    paid on the same grant within ``window`` (so instalments add up), and the code typed with the request."""

    above_cents: int
    code: str = ""
    window: timedelta = timedelta(hours=24)


def recently_paid(application: Application, window: timedelta) -> int:
    """What was paid on the grant (not voided) within ``window``, by anyone."""
    return int(db.session.scalar(db.select(db.func.coalesce(db.func.sum(GrantPayment.amount_cents), 0)).where(
        GrantPayment.application_id == application.id, GrantPayment.voided_at.is_(None),
        GrantPayment.created_at >= utcnow() - window)) or 0)


def confirm_identity(actor: User, total_cents: int, step_up: StepUp, fund: Fund) -> None:
    """Above the threshold money leaves only with a fresh code from the trustee's authenticator app (a stolen
    open session, or a password seen over a shoulder, is not enough)."""
    from fundapp.accounts import two_factor

    if total_cents <= step_up.above_cents:
        return
    if not step_up.code or not two_factor.verify(actor, step_up.code, recovery=False):
        record_change("payment.step_up_failed", "user", actor.id, actor=actor, fund_id=fund.id,
                      after={"total_cents": total_cents})
        db.session.flush()
        raise StepUpNeeded(_("Payments above %(limit)s (counting what was paid on the same grants within the day) "
                             "need a fresh code from your authenticator app. Type the newest code and try once "
                             "more.", limit=money_text(step_up.above_cents, fund.currency)), "code")


def payable(fund: Fund) -> list[Application]:
    """Approved grants with money still owed, oldest decision first (for a payment batch)."""
    return list(db.session.scalars(db.select(Application).where(
        Application.fund_id == fund.id, Application.status.in_([Status.APPROVED, Status.PARTIALLY_APPROVED]))
        .order_by(Application.updated_at, Application.id)))


def pay_batch(fund: Fund, applications: list[Application], *, method: str, first_reference: str, paid_on: date,
              actor: User, step_up: StepUp | None = None) -> list[GrantPayment]:
    """Pay what is owed on each grant; cheque numbers count up from ``first_reference``. The caller commits
    all of it or, on any refusal, none.

    Every grant is locked first, in id order (a single payment racing the batch waits, then finds the grant
    paid), and what is owed is read under the locks. The fresh code, when needed, covers the whole batch.
    """
    if not applications:
        raise ReviewError(_("Choose the grants in this batch."))
    for application in sorted(applications, key=lambda a: a.id):
        lock_case(application)
    if any(a.status not in (Status.APPROVED, Status.PARTIALLY_APPROVED) for a in applications):
        raise AlreadyDone(_("A grant in this batch was paid or changed meanwhile; nothing was paid. Choose the "
                            "batch again."))
    if step_up is not None:
        confirm_identity(actor, sum((a.amount_approved_cents or 0) - a.amount_paid_cents
                                    + recently_paid(a, step_up.window) for a in applications), step_up, fund)
    payments = []
    for n, application in enumerate(applications):
        reference = first_reference.strip()
        if method == "cheque" and reference.isdigit():
            reference = str(int(reference) + n)
        payments.append(record_payment(
            fund, application, amount_cents=(application.amount_approved_cents or 0) - application.amount_paid_cents,
            method=method, reference=reference, paid_on=paid_on, actor=actor))
    return payments


def _tell_member(fund: Fund, application: Application, compose) -> None:
    """Queue a mail to the member; ``compose(user)`` returns (subject, body) and runs in the member's language."""
    user = db.session.get(User, application.applicant_id)
    with force_locale(user.language):
        subject, body = compose(user)
        body = before_signature(body, _("Your application, with everything the trustees decided: %(link)s",
                                        link=case_link(application, fund)), fund.name)
        queue_mail(user.email, subject, body, fund_id=fund.id)


def case_link(application: Application, fund: Fund | None = None) -> str:
    """The member's own page for the application (the one link each mail about it leads to)."""
    return public_link("applications.show", fund=fund, application_id=application.id)


# --- the trustees' notes and the assigned reviewers ---------------------------------------------------


def take_case(fund: Fund, application: Application, *, actor: User) -> None:
    """The trustee becomes an assigned reviewer of the case (and reads its sealed notes from now on)."""
    refuse_if_recused(application, actor)
    if actor.id in reviewer_ids(application):
        return
    db.session.add(CaseReviewer(application_id=application.id, trustee_id=actor.id))
    db.session.flush()
    record_change("case.reviewer_assigned", "application", application.id, actor=actor, fund_id=fund.id,
                  after={"reviewer": actor.id})


def add_note(fund: Fund, application: Application, body: str, *, sealed: bool, actor: User) -> CaseNote:
    """A note for the trustees; a sealed one is for the assigned reviewers (its author becomes one). Its words
    never go on the audit trail, which every trustee reads."""
    body = body.strip()
    if not body:
        raise ReviewError(_("Write the note first."), "note")
    if len(body) > 5_000:
        raise ReviewError(_("A note can be at most 5,000 characters."), "note")
    refuse_if_recused(application, actor)
    if sealed:
        take_case(fund, application, actor=actor)
    note = CaseNote(application_id=application.id, author_id=actor.id, body=body, sealed=sealed)
    db.session.add(note)
    db.session.flush()
    record_change("case.note_added", "application", application.id, actor=actor, fund_id=fund.id,
                  after={"note": note.id, "sealed": sealed})
    return note
