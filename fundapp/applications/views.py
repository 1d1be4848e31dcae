"""The member's pages: apply (draft, documents, submit), follow their applications, answer, withdraw;
the documents view (applicant and trustees only); the treasurer's rules page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fundapp.accounts.models import Role
from fundapp.applications import documents as application_documents
from fundapp.applications import services
from fundapp.applications.access import own_application
from fundapp.applications.forms import AnswerForm, ApplicationForm, RulesForm
from fundapp.applications.models import DEFAULT_CATEGORIES, Application, ApplicationDocument, FundRules, category_name
from fundapp.applications.states import OPEN, InvalidTransition
from fundapp.extensions import db
from fundapp.funds.services import current_fund
from fundapp.money import decimal_text
from fundapp.policy import can_see_application, roles_required
from fundapp.web import download, show_error

bp = Blueprint("applications", __name__)


@bp.app_template_global("document_quota")
def document_quota(member_id: int):
    """For the upload forms: how much of the member's document quota is used."""
    return application_documents.document_quota(member_id)


def _uploads(field) -> list:
    return [f for f in (field.data or []) if getattr(f, "filename", "")]


def _fill(form: ApplicationForm, application: Application) -> None:
    form.category.data = application.category
    form.amount.data = decimal_text(application.amount_requested_cents) if application.amount_requested_cents else ""
    form.household_size.data = application.household_size
    for field in ("household_members", "address", "phone", "payee_kind", "payee_name", "payee_details", "need",
                  "attested"):
        getattr(form, field).data = getattr(application, field)


def _answers(form: ApplicationForm) -> dict:
    return {"category": form.category.data or "", "amount_requested_cents": form.amount_cents(),
            "household_size": form.household_size.data, "household_members": form.household_members.data or "",
            "address": form.address.data or "", "phone": form.phone.data or "",
            "payee_kind": form.payee_kind.data or "member", "payee_name": form.payee_name.data or "",
            "payee_details": form.payee_details.data or "", "need": form.need.data or "",
            "attested": bool(form.attested.data)}


@bp.route("/apply", methods=["GET", "POST"])
@roles_required(Role.APPLICANT)
def apply():
    """The application form. A GET only reads (an empty form, or the member's draft); the draft is made by the
    first save, with the answers and documents sent in it."""
    fund = current_fund()
    try:
        member, application = services.may_apply(current_user, fund)
    except services.NotEligible as exc:
        return render_template("applications/blocked.html", reason=str(exc), link=exc.field == "link")
    except services.ApplicationError as exc:
        return render_template("applications/blocked.html", reason=str(exc), link=False,
                               show_my=True), 409
    rules = services.current_rules(fund)
    form = ApplicationForm()
    form.category.choices = [("", _("Choose one"))] + [(key, category_name(key)) for key in rules.categories]
    if request.method == "GET":
        if application is not None:
            _fill(form, application)
    elif form.validate_on_submit():
        try:
            application = services.start_or_resume(current_user, fund)
            services.save_draft(application, actor=current_user, **_answers(form))
            uploads = _uploads(form.documents)
            if uploads:
                application_documents.add_documents(application, uploads, actor=current_user)
        except services.ApplicationError as exc:  # a bad file: nothing of this request is kept
            db.session.rollback()
            application = services.current_draft(current_user, fund)  # a draft made by this request is gone
            show_error(form, exc, "amount")
        else:
            db.session.commit()  # the answers and files are safe in the draft, whatever happens next
            if not form.submit.data:
                flash(_("Saved. You can come back and finish it any time."), "success")
                return redirect(url_for("applications.apply"))
            try:
                services.submit(application, actor=current_user, fund=fund)
            except services.Incomplete as exc:
                db.session.rollback()
                for field, message in exc.problems.items():
                    getattr(form, field).errors.append(message)
            except services.ApplicationError as exc:
                db.session.rollback()
                show_error(form, exc, "amount")
            else:
                db.session.commit()
                flash(_("Your application is sent. We emailed you a copy of what happens next."), "success")
                return redirect(url_for("applications.show", application_id=application.id))
    position = services.cap_position(member, rules, form.category.data or None, excluding=application)
    return render_template("applications/apply.html", form=form, application=application, member=member,
                           rules=rules, position=position, fund=fund), 422 if form.errors else 200


@bp.get("/my")
@roles_required(Role.APPLICANT)
def mine():
    applications = db.session.scalars(db.select(Application).filter_by(
        fund_id=current_fund().id, applicant_id=current_user.id).order_by(Application.id.desc())).all()
    return render_template("applications/mine.html", applications=applications, category_name=category_name)


@bp.get("/my/<int:application_id>")
@roles_required(Role.APPLICANT)
def show(application_id):
    application = own_application(application_id)
    return render_template("applications/show.html", application=application, category_name=category_name,
                           answer_form=AnswerForm(formdata=None), open_states=OPEN)


@bp.post("/my/<int:application_id>/withdraw")
@roles_required(Role.APPLICANT)
def withdraw(application_id):
    application = own_application(application_id)
    try:
        services.withdraw(application, actor=current_user, fund=current_fund())
    except InvalidTransition:
        db.session.rollback()
        flash(_("This application is already decided, so it cannot be withdrawn."), "error")
    else:
        db.session.commit()
        flash(_("Your application is withdrawn."), "success")
    return redirect(url_for("applications.show", application_id=application_id))


@bp.post("/my/<int:application_id>/answer")
@roles_required(Role.APPLICANT)
def answer(application_id):
    application = own_application(application_id)
    form = AnswerForm()
    if form.validate_on_submit():
        try:
            uploads = _uploads(form.documents)
            if uploads:
                application_documents.add_documents(application, uploads, actor=current_user)
            services.answer_question(application, form.body.data or "", actor=current_user, fund=current_fund())
        except services.ApplicationError as exc:
            db.session.rollback()
            show_error(form, exc, "body")
        else:
            db.session.commit()
            flash(_("Your answer is sent to the trustees."), "success")
            return redirect(url_for("applications.show", application_id=application_id))
    return render_template("applications/show.html", application=application, category_name=category_name,
                           answer_form=form, open_states=OPEN), 422


@bp.get("/documents/<int:document_id>")
@roles_required(Role.APPLICANT, Role.TRUSTEE, Role.TREASURER)
def document(document_id):
    """A document, as a download, for its applicant and the trustees only; every view is audited."""
    found = db.session.get(ApplicationDocument, document_id)
    if found is None or not can_see_application(found.application):
        abort(404)
    body = application_documents.open_document(found, actor=current_user)
    db.session.commit()
    response = download(body, found.original_name, found.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/admin/rules", methods=["GET", "POST"])
@roles_required(Role.TREASURER)
def rules():
    """The fund's rules: every save is a new version; applications keep the version they were judged under."""
    fund = current_fund()
    current = services.current_rules(fund)
    form = RulesForm()
    keys = list(dict.fromkeys([*DEFAULT_CATEGORIES, *current.categories]))
    form.categories.choices = [(key, category_name(key)) for key in keys]
    if request.method == "GET":
        form.categories.data = list(current.categories)
        for name, cents in (("strike_cap", current.strike_cap_cents), ("weekly_cap", current.weekly_cap_cents),
                            ("category_cap", current.category_cap_cents),
                            ("dual_approval_above", current.dual_approval_above_cents), ("reserve", current.reserve_cents)):
            getattr(form, name).data = decimal_text(cents)
        form.one_open_application.data = current.one_open_application
        form.approvals_needed.data = current.approvals_needed
    elif form.validate_on_submit():
        try:
            new = services.update_rules(
                fund, actor=current_user, categories=[k for k in keys if k in form.categories.data],
                strike_cap_cents=form.cents("strike_cap"), weekly_cap_cents=form.cents("weekly_cap"),
                category_cap_cents=form.cents("category_cap"),
                one_open_application=bool(form.one_open_application.data),
                dual_approval_above_cents=form.cents("dual_approval_above"),
                approvals_needed=form.approvals_needed.data, reserve_cents=form.cents("reserve"))
        except services.ApplicationError as exc:
            db.session.rollback()
            show_error(form, exc, "categories")
        else:
            db.session.commit()
            flash(_("Saved as version %(version)s of the rules. Applications already sent keep the rules they were "
                    "sent under.", version=new.version), "success")
            return redirect(url_for("applications.rules"))
    versions = db.session.scalars(db.select(FundRules).filter_by(fund_id=fund.id)
                                  .order_by(FundRules.version.desc())).all()
    return render_template("applications/rules.html", form=form, current=current, versions=versions,
                           fund=fund), 422 if form.errors else 200
