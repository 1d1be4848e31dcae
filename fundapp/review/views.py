"""The trustees' pages: the queue, the case, and the decision and payment forms."""
from __future__ import annotations

import functools

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fundapp import throttle
from fundapp.accounts.models import Role
from fundapp.applications.flags import flags_for
from fundapp.applications.models import Application, category_name
from fundapp.applications.services import cap_position
from fundapp.applications.states import GRANTED, PENDING, Status, status_name
from fundapp.extensions import db, utcnow
from fundapp.funds import clock
from fundapp.funds.services import current_fund
from fundapp.ledger import services as ledger
from fundapp.ledger import transfers
from fundapp.money import InvalidAmount, parse_amount
from fundapp.policy import can_read_note, can_see_application, roles_required
from fundapp.review import documents, queries, recusal, services
from fundapp.review.errors import AlreadyDone, Recused, StepUpNeeded
from fundapp.review.forms import (
    ApproveForm,
    BatchForm,
    DenyForm,
    NoteForm,
    PaymentForm,
    QuestionForm,
    RelationshipForm,
    VoidForm,
    first_error,
)
from fundapp.review.models import GrantPayment
from fundapp.web import confirm_first, confirmed, download, money_text

bp = Blueprint("review", __name__, url_prefix="/review")

TRUSTEES = (Role.TRUSTEE, Role.TREASURER)
REASON_NAMES = {"not_eligible": _l("Not eligible under the fund's rules"), "cap_reached": _l("Cap reached"),
                "not_hardship": _l("Not a hardship the fund covers"), "incomplete": _l("Information missing"),
                "funds_exhausted": _l("The fund has no money left for this"), "other": _l("Another reason")}
METHOD_NAMES = {"cheque": _l("Cheque"), "ach": _l("Bank transfer (ACH)"), "zelle": _l("Zelle"), "cash": _l("Cash")}


def _case(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None or application.status == Status.DRAFT or not can_see_application(application):
        abort(404)
    return application


def _amount_arg(name: str) -> int | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return parse_amount(text)
    except InvalidAmount:
        abort(400)


@bp.get("/")
@roles_required(*TRUSTEES)
def queue():
    fund = current_fund()
    filters = queries.QueueFilters(
        status=request.args.get("status", ""), category=request.args.get("category", ""),
        search=request.args.get("q", "").strip()[:100], worksite=request.args.get("worksite", "").strip()[:100],
        min_cents=_amount_arg("min"), max_cents=_amount_arg("max"), flagged=bool(request.args.get("flagged")),
        mine=bool(request.args.get("mine")))
    return render_template("review/queue.html", cases=queries.queue(fund, filters, current_user, utcnow()),
                           fund=fund, status=filters.status, category=filters.category, search=filters.search,
                           worksite=filters.worksite, flagged=filters.flagged, mine=filters.mine,
                           min_amount=request.args.get("min", ""), max_amount=request.args.get("max", ""),
                           available=ledger.available_to_grant(fund), statuses=list(Status), pending_states=PENDING,
                           transfers_waiting=transfers.waiting_for(fund),
                           # each name translated once for the page, not once a row (up to 200 rows)
                           category_name=functools.cache(category_name), status_name=functools.cache(status_name),
                           waiting_days=functools.cache(_waiting_days))


def _waiting_days(days: int) -> str:
    """"3 days" in the page's language (plain text: Jinja escapes it, and the words hold nothing to escape)."""
    return ngettext("%(num)s day", "%(num)s days", days)


@bp.get("/<int:application_id>")
@roles_required(*TRUSTEES)
def case(application_id):
    fund = current_fund()
    application = _case(application_id)
    page = queries.case_page(application, current_user)
    return render_template(
        "review/case.html", application=application, member=page.member, history=page.history, fund=fund,
        flags=flags_for(application), position=cap_position(page.member, application.rules, application.category,
                                                            excluding=application),
        approvals=page.approvals, recused=recusal.recusal_message(page.recused) if page.recused else "",
        i_approved=page.my_approval, needed=page.needed, payments=page.payments, trail=page.trail,
        names=page.names, applicant=page.applicant, available=ledger.available_to_grant(fund),
        granted_states=GRANTED, pending_states=PENDING,
        reasons=[(key, REASON_NAMES[key]) for key in services.DENIAL_REASONS],
        step_up=current_app.config["STEP_UP_ABOVE_CENTS"],
        methods=[(key, METHOD_NAMES[key]) for key in services.PAYMENT_METHODS], category_name=category_name,
        today=clock.today(fund).isoformat(), reviewers=page.reviewers,
        notes=[(note, can_read_note(note, page.reviewers)) for note in page.notes])


def _back_to(application: Application):
    return redirect(url_for("review.case", application_id=application.id))


def _refused(exc: ValueError) -> None:
    """Say why a decision was refused: every refusal of the services below is a ValueError (review's own
    errors, the ledger's PeriodClosed, an application's InvalidTransition). Nothing of it is kept, except the record of a recusal or of a refused
    second factor; the same click twice is said as information, not as an error."""
    if isinstance(exc, (Recused, StepUpNeeded)):
        db.session.commit()  # the recusal or the failed check is on the record; nothing else was done
        if isinstance(exc, StepUpNeeded):
            throttle.code_refused()
        flash(str(exc), "error")
    elif isinstance(exc, AlreadyDone):
        db.session.rollback()
        flash(str(exc), "info")
    else:
        db.session.rollback()
        flash(str(exc), "error")


def _done(message: str) -> None:
    db.session.commit()
    flash(message, "success")


def _unreadable(form) -> bool:
    """True (and said) when what was sent cannot be read (an amount or a date); the services judge the rest."""
    problem = None if form.validate() else first_error(form)
    if problem:
        flash(problem, "error")
    return problem is not None


def _step_up(code: str) -> services.StepUp:
    return services.StepUp(current_app.config["STEP_UP_ABOVE_CENTS"], code or "")


@bp.post("/<int:application_id>/take")
@roles_required(*TRUSTEES)
def take(application_id):
    application = _case(application_id)
    try:
        services.take_case(current_fund(), application, actor=current_user)
    except ValueError as exc:
        _refused(exc)
    else:
        _done(_("You are an assigned reviewer of this case: you read its sealed notes."))
    return _back_to(application)


@bp.post("/<int:application_id>/notes")
@roles_required(*TRUSTEES)
def add_note(application_id):
    application, form = _case(application_id), NoteForm()
    if _unreadable(form):
        return _back_to(application)
    try:
        services.add_note(current_fund(), application, form.note.data or "", sealed=form.sealed.data,
                          actor=current_user)
    except ValueError as exc:
        _refused(exc)
    else:
        _done(_("The note is kept with the case."))
    return _back_to(application)


@bp.post("/<int:application_id>/question")
@roles_required(*TRUSTEES)
def question(application_id):
    application, form = _case(application_id), QuestionForm()
    if _unreadable(form):
        return _back_to(application)
    try:
        services.ask_question(current_fund(), application, form.body.data or "", actor=current_user)
    except ValueError as exc:
        _refused(exc)
    else:
        _done(_("Your question is sent to the member."))
    return _back_to(application)


@bp.post("/<int:application_id>/approve")
@roles_required(*TRUSTEES)
def approve(application_id):
    application, form = _case(application_id), ApproveForm()
    if _unreadable(form):
        return _back_to(application)
    try:
        booked = services.approve(current_fund(), application, form.amount.data, actor=current_user,
                                  note=form.note.data or "", criteria=form.criteria.data or "")
    except ValueError as exc:
        _refused(exc)
    else:
        _done(_("Your approval is recorded."))
        if not booked:
            flash(_("This grant needs another trustee's approval before it is booked."), "info")
    return _back_to(application)


@bp.post("/<int:application_id>/deny")
@roles_required(*TRUSTEES)
def deny(application_id):
    application, form = _case(application_id), DenyForm()
    if _unreadable(form):
        return _back_to(application)
    try:
        services.deny(current_fund(), application, form.reason.data or "", actor=current_user,
                      note=form.note.data or "")
    except ValueError as exc:
        _refused(exc)
    else:
        _done(_("The denial is recorded and the member is told."))
    return _back_to(application)


@bp.post("/<int:application_id>/pay")
@roles_required(*TRUSTEES)
def pay(application_id):
    application, form = _case(application_id), PaymentForm()
    if _unreadable(form):
        return _back_to(application)
    try:
        services.record_payment(current_fund(), application, amount_cents=form.amount.data,
                                method=form.method.data or "", reference=form.reference.data or "",
                                paid_on=form.paid_on.data, actor=current_user, step_up=_step_up(form.code.data))
    except ValueError as exc:
        _refused(exc)
    else:
        _done(_("The payment is recorded in the books."))
    return _back_to(application)


@bp.post("/payments/<int:payment_id>/void")
@roles_required(*TRUSTEES)
def void(payment_id):
    payment = db.session.get(GrantPayment, payment_id)
    if payment is None:
        abort(404)
    application, form = _case(payment.application_id), VoidForm()
    if _unreadable(form):
        return _back_to(application)
    reason = form.reason.data or ""
    if payment.voided_at is None and reason.strip() and not confirmed():
        fund = current_fund()
        return confirm_first(_("Void this payment?"), [
            _("Void the payment of %(amount)s made on %(date)s by %(method)s %(reference)s to %(payee)s.",
              amount=money_text(payment.amount_cents, fund.currency), date=format_date(payment.paid_on, "long"),
              method=METHOD_NAMES.get(payment.method, payment.method), reference=payment.reference,
              payee=payment.payee_name),
            _("The books get a reversing entry, and grant #%(id)s is owed again: %(owed)s still to pay.",
              id=application.id, owed=money_text(application.amount_approved_cents - application.amount_paid_cents
                                                 + payment.amount_cents, fund.currency)),
            _("Only void a payment that was never made or came back (a cheque destroyed, a transfer returned).")],
            _("Void the payment"), url_for("review.case", application_id=application.id))
    try:
        services.void_payment(current_fund(), payment, reason=reason, actor=current_user)
    except ValueError as exc:
        _refused(exc)
    else:
        _done(_("The payment is void; the grant is owed again."))
    return _back_to(application)


@bp.route("/relationships", methods=["GET", "POST"])
@roles_required(*TRUSTEES)
def relationships():
    """A trustee declares relationships with members, so they recuse on those members' cases."""
    if request.method == "POST":
        form = RelationshipForm()
        if not _unreadable(form):
            try:
                recusal.declare_relationship(current_fund(), current_user, form.member_id.data or "",
                                             form.relation.data or "")
            except ValueError as exc:
                _refused(exc)
            else:
                _done(_("Declared. You will not decide this member's applications."))
        return redirect(url_for("review.relationships"))
    return render_template("review/relationships.html", declared=queries.declared_relationships(current_user))


@bp.get("/<int:application_id>/casefile.pdf")
@roles_required(*TRUSTEES)
def case_file(application_id):
    application = _case(application_id)
    return download(documents.case_file(current_fund(), application), f"case-{application.id}.pdf")


@bp.get("/<int:application_id>/award.pdf")
@roles_required(*TRUSTEES)
def award_letter(application_id):
    application = _case(application_id)
    if application.amount_approved_cents is None:
        abort(404)
    return download(documents.award_letter(current_fund(), application), f"award-{application.id}.pdf")


def _chosen(fund, ids: set[int]) -> list[Application]:
    return [a for a in services.payable(fund) if a.id in ids]


@bp.get("/payments")
@roles_required(*TRUSTEES)
def payments():
    fund = current_fund()
    owed = services.payable(fund)
    names = documents.applicant_names(owed)
    payees = {a.id: documents.payee_of(a, names) for a in owed}
    return render_template("review/payments.html", owed=owed, payees=payees, fund=fund,
                           step_up=current_app.config["STEP_UP_ABOVE_CENTS"],
                           methods=[(key, METHOD_NAMES[key]) for key in services.PAYMENT_METHODS],
                           today=clock.today(fund).isoformat())


@bp.get("/payments/sheet.pdf")
@roles_required(*TRUSTEES)
def batch_sheet():
    fund = current_fund()
    chosen = _chosen(fund, {int(i) for i in request.args.getlist("grants") if i.isdigit()})
    if not chosen:
        flash(_("Choose the grants in this batch."), "error")
        return redirect(url_for("review.payments"))
    return download(documents.batch_sheet(fund, chosen), f"payment-batch-{clock.today(fund).isoformat()}.pdf")


@bp.post("/payments/batch")
@roles_required(*TRUSTEES)
def pay_batch():
    fund, form = current_fund(), BatchForm()
    if _unreadable(form):
        return redirect(url_for("review.payments"))
    chosen = _chosen(fund, form.grant_ids())
    if chosen and not confirmed():
        names = documents.applicant_names(chosen)
        total = sum(a.amount_approved_cents - a.amount_paid_cents for a in chosen)
        method = METHOD_NAMES.get(form.method.data or "", form.method.data or "")
        lines = [ngettext("Record %(num)s payment of %(total)s in all, by %(method)s, dated %(date)s:",
                          "Record %(num)s payments of %(total)s in all, by %(method)s, dated %(date)s:",
                          len(chosen), total=money_text(total, fund.currency), method=method,
                          date=form.paid_on.data.isoformat())]
        lines += [f"#{a.id} · {documents.payee_of(a, names)[0]} · "
                  f"{money_text(a.amount_approved_cents - a.amount_paid_cents, fund.currency)}" for a in chosen]
        lines.append(_("Each is booked as paid from the bank; a mistake is undone only by voiding the payment."))
        return confirm_first(_("Mark these grants paid?"), lines, _("Mark them all paid"), url_for("review.payments"),
                             code_label=_("Code from your authenticator app (needed when the batch, with what was "
                                          "paid on its grants within a day, comes to more than %(limit)s)",
                                          limit=money_text(current_app.config["STEP_UP_ABOVE_CENTS"],
                                                           fund.currency)))
    try:
        paid = services.pay_batch(fund, chosen, method=form.method.data or "",
                                  first_reference=form.reference.data or "", paid_on=form.paid_on.data,
                                  actor=current_user, step_up=_step_up(form.code.data))
    except ValueError as exc:
        _refused(exc)  # all or nothing
    else:
        _done(ngettext("%(num)s payment recorded.", "%(num)s payments recorded.", len(paid)))
    return redirect(url_for("review.payments"))
