"""The trustees' pages: the queue, the case, and the decision and payment forms."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fundapp.accounts.models import Member, Role, User
from fundapp.applications.flags import FlagIndex, flags_for, submitted_applications
from fundapp.applications.forms import category_name
from fundapp.applications.models import Application
from fundapp.applications.services import cap_position, granted_cents
from fundapp.applications.states import GRANTED, PENDING, Status
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db, utcnow
from fundapp.funds import clock
from fundapp.funds.services import current_fund
from fundapp.ledger import services as ledger
from fundapp.money import InvalidAmount, parse_amount
from fundapp import throttle
from fundapp.policy import can_read_note, can_see_application, roles_required
from fundapp.web import confirm_first, confirmed, download, money_text
from fundapp.review import documents, services
from fundapp.review.models import Approval, CaseNote, GrantPayment, Relationship

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


@bp.get("/")
@roles_required(*TRUSTEES)
def queue():
    fund = current_fund()
    status = request.args.get("status", "")
    category = request.args.get("category", "")
    search = request.args.get("q", "").strip()[:100]
    query = (db.select(Application, Member).join(Member, Member.id == Application.member_id)
             .where(Application.fund_id == fund.id))
    query = query.where(Application.status == status) if status in set(Status) else \
        query.where(Application.status.in_(list(PENDING)))
    if category:
        query = query.where(Application.category == category)
    worksite = request.args.get("worksite", "").strip()[:100]
    if worksite:
        query = query.where(db.func.lower(Member.worksite) == worksite.lower())
    for bound in ("min", "max"):
        text = request.args.get(bound, "").strip()
        if text:
            try:
                cents = parse_amount(text)
            except InvalidAmount:
                abort(400)
            query = query.where(Application.amount_requested_cents >= cents if bound == "min"
                                else Application.amount_requested_cents <= cents)
    if search:
        like = f"%{search.lower()}%"
        query = query.where(db.or_(db.func.lower(Member.first_name + " " + Member.last_name).like(like),
                                   db.func.lower(Member.member_id).like(like)))
    rows = db.session.execute(query.order_by(Application.submitted_at, Application.id).limit(200)).all()
    now = utcnow()
    candidates = submitted_applications(fund.id)  # one query for the whole page's flags
    index = FlagIndex(candidates)
    by_member: dict[int, list[Application]] = {}
    for candidate in candidates:
        by_member.setdefault(candidate.member_id, []).append(candidate)
    approvals = services.approvals_by_case([a.id for a, _m in rows])
    related = services.related_member_ids(current_user)
    names = _names({ap.trustee_id for given in approvals.values() for ap in given})
    cases = []
    for a, m in rows:
        earlier = [other for other in by_member.get(m.id, []) if other.id != a.id]
        given = approvals.get(a.id, [])
        needed = services.approvals_needed(a.rules, given[0].amount_cents if given else a.amount_requested_cents)
        cases.append({"application": a, "member": m, "flags": len(flags_for(a, index)),
                      "waiting_days": (now - a.submitted_at).days if a.submitted_at else 0,
                      "granted": granted_cents(earlier), "needed": needed,
                      "approved_by": [names.get(ap.trustee_id, "") for ap in given],
                      "mine_to_confirm": bool(given) and a.status in PENDING and len(given) < needed
                      and all(ap.trustee_id != current_user.id for ap in given)
                      and a.applicant_id != current_user.id and m.id not in related,
                      "position": cap_position(m, a.rules, a.category, excluding=a, applications=earlier)})
    if request.args.get("flagged"):
        cases = [c for c in cases if c["flags"]]
    if request.args.get("mine"):
        cases = [c for c in cases if c["mine_to_confirm"]]
    return render_template("review/queue.html", cases=cases, fund=fund, status=status, category=category,
                           search=search, worksite=worksite, flagged=bool(request.args.get("flagged")),
                           mine=bool(request.args.get("mine")),
                           min_amount=request.args.get("min", ""), max_amount=request.args.get("max", ""),
                           available=ledger.available_to_grant(fund), statuses=list(Status), pending_states=PENDING,
                           category_name=category_name)


@bp.get("/<int:application_id>")
@roles_required(*TRUSTEES)
def case(application_id):
    fund = current_fund()
    application = _case(application_id)
    member = db.session.get(Member, application.member_id)
    history = db.session.scalars(db.select(Application).where(
        Application.member_id == member.id, Application.id != application.id,
        Application.status != Status.DRAFT).order_by(Application.id)).all()
    trail = db.session.scalars(db.select(AuditRecord).where(
        AuditRecord.object_type == "application", AuditRecord.object_id == str(application.id))
        .order_by(AuditRecord.id)).all()
    reviewers = services.reviewer_ids(application)
    approvals = db.session.scalars(db.select(Approval).filter_by(application_id=application.id)
                                   .order_by(Approval.id)).all()
    names = _names({application.applicant_id, *reviewers, *(ap.trustee_id for ap in approvals),
                    *(m.author_id for m in application.messages), *(r.actor_id for r in trail)}
                   | set(db.session.scalars(db.select(CaseNote.author_id).filter_by(application_id=application.id))))
    recused = services.recusal(application, current_user)
    return render_template(
        "review/case.html", application=application, member=member, history=history, fund=fund,
        flags=flags_for(application), position=cap_position(member, application.rules, application.category,
                                                            excluding=application),
        approvals=approvals, recused=services.recusal_message(recused) if recused else "",
        i_approved=next((ap for ap in approvals if ap.trustee_id == current_user.id), None),
        needed=services.approvals_needed(application.rules, approvals[0].amount_cents if approvals
                                         else application.amount_requested_cents),
        payments=db.session.scalars(db.select(GrantPayment).filter_by(application_id=application.id)
                                    .order_by(GrantPayment.id)).all(),
        trail=trail, names=names, applicant=db.session.get(User, application.applicant_id),
        available=ledger.available_to_grant(fund), granted_states=GRANTED, pending_states=PENDING,
        reasons=[(key, REASON_NAMES[key]) for key in services.DENIAL_REASONS],
        step_up=current_app.config["STEP_UP_ABOVE_CENTS"],
        methods=[(key, METHOD_NAMES[key]) for key in services.PAYMENT_METHODS], category_name=category_name,
        today=clock.today(fund).isoformat(), reviewers=reviewers,
        notes=[(note, can_read_note(note, reviewers)) for note in db.session.scalars(
            db.select(CaseNote).filter_by(application_id=application.id).order_by(CaseNote.id))])


def _names(user_ids: set) -> dict[int, str]:
    """The names of just these people (a case page never loads every user of every fund)."""
    ids = {i for i in user_ids if i is not None}
    return dict(db.session.execute(db.select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}


def _decide(application_id: int, act, done: str):
    """Run one decision; a refusal comes back as a message, and nothing of it is kept except a recusal."""
    application = _case(application_id)
    try:
        act(current_fund(), application)
    except (services.Recused, services.StepUpNeeded) as exc:
        db.session.commit()  # the recusal or the failed check is on the record; nothing else was done
        if isinstance(exc, services.StepUpNeeded):
            throttle.code_refused()
        flash(str(exc), "error")
    except services.AlreadyDone as exc:  # the same click twice: said plainly, nothing more done
        db.session.rollback()
        flash(str(exc), "info")
    except (services.ReviewError, InvalidAmount, ValueError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for("review.case", application_id=application_id))


def _step_up() -> services.StepUp:
    return services.StepUp(current_app.config["STEP_UP_ABOVE_CENTS"], request.form.get("code", ""))


def _cents(name: str) -> int:
    return parse_amount(request.form.get(name, ""))


@bp.post("/<int:application_id>/take")
@roles_required(*TRUSTEES)
def take(application_id):
    return _decide(application_id, lambda fund, a: services.take_case(fund, a, actor=current_user),
                   _("You are an assigned reviewer of this case: you read its sealed notes."))


@bp.post("/<int:application_id>/notes")
@roles_required(*TRUSTEES)
def add_note(application_id):
    return _decide(application_id, lambda fund, a: services.add_note(
        fund, a, request.form.get("note", ""), sealed=request.form.get("sealed") == "y", actor=current_user),
        _("The note is kept with the case."))


@bp.post("/<int:application_id>/question")
@roles_required(*TRUSTEES)
def question(application_id):
    return _decide(application_id, lambda fund, a: services.ask_question(
        fund, a, request.form.get("body", ""), actor=current_user), _("Your question is sent to the member."))


@bp.post("/<int:application_id>/approve")
@roles_required(*TRUSTEES)
def approve(application_id):
    outcome = {}

    def act(fund, application):
        outcome["booked"] = services.approve(fund, application, _cents("amount"), actor=current_user,
                                             note=request.form.get("note", ""),
                                             criteria=request.form.get("criteria", ""))
    response = _decide(application_id, act, _("Your approval is recorded."))
    if outcome.get("booked") is False:
        flash(_("This grant needs another trustee's approval before it is booked."), "info")
    return response


@bp.post("/<int:application_id>/deny")
@roles_required(*TRUSTEES)
def deny(application_id):
    return _decide(application_id, lambda fund, a: services.deny(
        fund, a, request.form.get("reason", ""), actor=current_user, note=request.form.get("note", "")),
        _("The denial is recorded and the member is told."))


@bp.post("/<int:application_id>/pay")
@roles_required(*TRUSTEES)
def pay(application_id):
    def act(fund, application):
        paid_on = date.fromisoformat(request.form.get("paid_on", ""))
        services.record_payment(fund, application, amount_cents=_cents("amount"),
                                method=request.form.get("method", ""), reference=request.form.get("reference", ""),
                                paid_on=paid_on, actor=current_user, step_up=_step_up())
    return _decide(application_id, act, _("The payment is recorded in the books."))


@bp.post("/payments/<int:payment_id>/void")
@roles_required(*TRUSTEES)
def void(payment_id):
    payment = db.session.get(GrantPayment, payment_id)
    if payment is None:
        abort(404)
    application = _case(payment.application_id)
    if payment.voided_at is None and request.form.get("reason", "").strip() and not confirmed():
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
    return _decide(payment.application_id, lambda fund, a: services.void_payment(
        fund, payment, reason=request.form.get("reason", ""), actor=current_user),
        _("The payment is void; the grant is owed again."))


@bp.route("/relationships", methods=["GET", "POST"])
@roles_required(*TRUSTEES)
def relationships():
    """A trustee declares relationships with members, so they recuse on those members' cases."""
    fund = current_fund()
    if request.method == "POST":
        try:
            services.declare_relationship(fund, current_user, request.form.get("member_id", ""),
                                          request.form.get("relation", ""))
        except services.ReviewError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Declared. You will not decide this member's applications."), "success")
        return redirect(url_for("review.relationships"))
    declared = db.session.execute(
        db.select(Relationship, Member).join(Member, Member.id == Relationship.member_id)
        .where(Relationship.trustee_id == current_user.id).order_by(Relationship.id)).all()
    return render_template("review/relationships.html", declared=declared)


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


def _chosen(fund) -> list[Application]:
    ids = {int(i) for i in request.values.getlist("grants") if i.isdigit()}
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
    chosen = _chosen(fund)
    if not chosen:
        flash(_("Choose the grants in this batch."), "error")
        return redirect(url_for("review.payments"))
    return download(documents.batch_sheet(fund, chosen), f"payment-batch-{clock.today(fund).isoformat()}.pdf")


@bp.post("/payments/batch")
@roles_required(*TRUSTEES)
def pay_batch():
    fund = current_fund()
    chosen = _chosen(fund)
    if chosen and not confirmed():
        names = documents.applicant_names(chosen)
        total = sum(a.amount_approved_cents - a.amount_paid_cents for a in chosen)
        method = METHOD_NAMES.get(request.form.get("method", ""), request.form.get("method", ""))
        lines = [ngettext("Record %(num)s payment of %(total)s in all, by %(method)s, dated %(date)s:",
                          "Record %(num)s payments of %(total)s in all, by %(method)s, dated %(date)s:",
                          len(chosen), total=money_text(total, fund.currency), method=method,
                          date=request.form.get("paid_on", ""))]
        lines += [f"#{a.id} · {documents.payee_of(a, names)[0]} · "
                  f"{money_text(a.amount_approved_cents - a.amount_paid_cents, fund.currency)}" for a in chosen]
        lines.append(_("Each is booked as paid from the bank; a mistake is undone only by voiding the payment."))
        return confirm_first(_("Mark these grants paid?"), lines, _("Mark them all paid"), url_for("review.payments"),
                             code_label=_("Code from your authenticator app (needed when the batch, with what was "
                                          "paid on its grants within a day, comes to more than %(limit)s)",
                                          limit=money_text(current_app.config["STEP_UP_ABOVE_CENTS"],
                                                           fund.currency)))
    try:
        paid = services.pay_batch(fund, chosen, method=request.form.get("method", ""),
                                  first_reference=request.form.get("reference", ""),
                                  paid_on=date.fromisoformat(request.form.get("paid_on", "")), actor=current_user,
                                  step_up=_step_up())
    except services.StepUpNeeded as exc:
        db.session.commit()  # the failed check is on the record; nothing was paid
        throttle.code_refused()
        flash(str(exc), "error")
    except services.AlreadyDone as exc:
        db.session.rollback()
        flash(str(exc), "info")
    except (services.ReviewError, ValueError) as exc:
        db.session.rollback()  # all or nothing
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(ngettext("%(num)s payment recorded.", "%(num)s payments recorded.", len(paid)), "success")
    return redirect(url_for("review.payments"))
