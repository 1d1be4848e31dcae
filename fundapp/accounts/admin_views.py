"""The treasurer's pages: people and roles, the membership roster, and the fund's settings."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fundapp.accounts import membership as roster_service
from fundapp.accounts import services, two_factor
from fundapp.accounts.forms import ClaimDecisionForm, NewUserForm, RosterImportForm, UserAccessForm
from fundapp.accounts.models import Member, MembershipClaim, Role, RoleGrant, User
from fundapp.extensions import db
from fundapp.funds.forms import FundSettingsForm
from fundapp.funds.services import (
    SETTING_FIELDS,
    FundSettingsError,
    current_fund,
    receipt_placeholders,
    receipts_held,
    update_fund_settings,
)
from fundapp.mail import public_link
from fundapp.policy import roles_required
from fundapp.web import confirm_first, confirmed, int_arg, show_error

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROSTER_PAGE_SIZE = 50


@bp.get("/users")
@roles_required(Role.TREASURER)
def users():
    """Staff (trustees and treasurers) first, all of them; members and donors with accounts below, searched
    by name or email and a page at a time (a fund on strike may have thousands)."""
    fund = current_fund()
    staff_ids = db.select(RoleGrant.user_id).where(RoleGrant.fund_id == fund.id,
                                                   RoleGrant.role.in_([Role.TRUSTEE, Role.TREASURER]))
    staff = db.session.scalars(db.select(User).where(User.id.in_(staff_ids)).order_by(User.name)).all()
    search = request.args.get("q", "").strip()[:100]
    others = (db.select(User).join(RoleGrant).where(RoleGrant.fund_id == fund.id, User.id.not_in(staff_ids))
              .distinct())
    if search:
        like = f"%{search.lower()}%"
        others = others.where(db.or_(db.func.lower(User.name).like(like), db.func.lower(User.email).like(like)))
    members = db.paginate(others.order_by(User.name, User.id), page=max(int_arg("page", 1), 1), per_page=50,
                          error_out=False)
    return render_template("admin/users.html", staff=staff, members=members, search=search, fund=fund)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.TREASURER)
def new_user():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                current_fund(), email=form.email.data, name=form.name.data, roles=form.roles.data,
                language=form.language.data, actor=current_user,
                set_password_url_for=lambda t: public_link("accounts.reset_password", token=t))
        except services.AccountError as exc:
            db.session.rollback()
            show_error(form, exc, "email")
        else:
            db.session.commit()
            flash(_("%(name)s has an account now and has been emailed a link to choose a password.",
                    name=user.name), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/new_user.html", form=form), 422 if form.errors else 200


def _plain_amount(cents: int) -> str:
    """Cents as the form shows them for editing: 123450 -> "1234.50"."""
    return f"{cents // 100}.{cents % 100:02d}"


@bp.route("/fund", methods=["GET", "POST"])
@roles_required(Role.TREASURER)
def fund_settings():
    """Name, legal details, receipt wording and the fund's calendar; every save audited with before and after."""
    fund = current_fund()
    form = FundSettingsForm(data={**{field: getattr(fund, field) for field in SETTING_FIELDS},
                                  "goal": _plain_amount(fund.goal_cents), "reserve": _plain_amount(fund.reserve_cents)})
    if form.validate_on_submit():
        held = receipts_held(fund)
        try:
            changed = update_fund_settings(fund, actor=current_user, **form.values())
        except FundSettingsError as exc:
            db.session.rollback()
            getattr(form, {"goal_cents": "goal", "reserve_cents": "reserve"}.get(exc.field, exc.field)).errors \
                .append(str(exc))
        else:
            db.session.commit()
            flash(_("Saved the fund's settings.") if changed else _("Nothing changed."), "success")
            if held and not receipts_held(fund):
                flash(_("Receipts are sent again: any held until now are being mailed to their donors."), "info")
            return redirect(url_for("admin.fund_settings"))
    return render_template("admin/fund.html", form=form, fund=fund, placeholders=receipt_placeholders(fund),
                           production=current_app.config["ENV_NAME"] == "production"), 422 if form.errors else 200


@bp.route("/fund/life", methods=["GET", "POST"])
@roles_required(Role.TREASURER)
def fund_life():
    """Open, applications paused, or closed to gifts (and where givers go instead); every change audited."""
    from fundapp.funds.forms import FundLifeForm
    from fundapp.funds.models import Fund, FundStatus
    from fundapp.payments.gateway import GatewayError
    from fundapp.setup import set_fund_status

    fund = current_fund()
    others = db.session.scalars(db.select(Fund).where(Fund.id != fund.id, Fund.status != FundStatus.CLOSED)
                                .order_by(Fund.name)).all()
    form = FundLifeForm(data={"status": fund.status, "successor": str(fund.successor_id or "")})
    form.successor.choices = [("", _("Every fund still open, listed"))] + [(str(o.id), o.name) for o in others]
    if form.validate_on_submit():
        successor = next((o for o in others if str(o.id) == form.successor.data), None)
        if form.status.data == FundStatus.CLOSED and fund.status != FundStatus.CLOSED and not confirmed():
            return confirm_first(_("Close the fund to gifts?"), [
                _("The donate page will say the fund is closed and send givers elsewhere."),
                _("Every monthly gift still running is ended at Stripe now; its donors are charged no more."),
                _("The books, reports and exports stay readable; you can open the fund again.")],
                _("Close the fund"), url_for("admin.fund_life"))
        try:
            changed = set_fund_status(fund, form.status.data, successor=successor, actor=current_user)
        except FundSettingsError as exc:
            db.session.rollback()
            show_error(form, exc, "status")
        except GatewayError:
            db.session.rollback()
            flash(_("We could not reach the card processor to end the monthly gifts; nothing changed. Please try "
                    "again in a minute."), "error")
        else:
            db.session.commit()
            flash(_("Saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("admin.fund_life"))
    return render_template("admin/fund_life.html", form=form, fund=fund), 422 if form.errors else 200


def _person_of_this_fund(user_id: int) -> User:
    """A person with a role in this fund; anyone else (another fund's, or no one) is not found."""
    user = db.session.get(User, user_id)
    if user is None or not any(g.fund_id == current_fund().id for g in user.grants):
        abort(404)
    return user


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.TREASURER)
def edit_user(user_id: int):
    fund = current_fund()
    user = _person_of_this_fund(user_id)
    form = UserAccessForm(data={"roles": sorted(user.roles_in(fund.id)), "active": user.active})
    if form.validate_on_submit():
        try:
            services.set_roles(user, fund, form.roles.data, actor=current_user)
            services.set_active(user, fund, form.active.data, actor=current_user)
        except services.AccountError as exc:
            db.session.rollback()
            form.roles.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Saved the access of %(name)s.", name=user.name), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/edit_user.html", form=form, user=user,
                           second_factor=two_factor.enrolled(user)), 422 if form.errors else 200


@bp.post("/users/<int:user_id>/second-factor/clear")
@roles_required(Role.TREASURER)
def clear_second_factor(user_id: int):
    """A lost phone: the person connects a new authenticator app at their next sign-in."""
    user = _person_of_this_fund(user_id)
    if user.id == current_user.id:  # an open session alone must not be able to take the second factor off
        flash(_("You cannot clear your own authenticator app here: use a recovery code to sign in, or ask "
                "another treasurer (or the operator: flask fund clear-second-factor)."), "error")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    two_factor.clear(user, actor=current_user)
    db.session.commit()
    flash(_("%(name)s will connect a new authenticator app at their next sign-in.", name=user.name), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


def _render_roster(form: RosterImportForm, *, query: str = "", page: int = 1, problems=(), status: int = 200):
    select = db.select(Member).filter_by(fund_id=current_fund().id)
    if query:
        like = f"%{query.lower()}%"
        select = select.where(db.or_(
            db.func.lower(Member.member_id).like(like), db.func.lower(Member.last_name).like(like),
            db.func.lower(Member.first_name).like(like), db.func.lower(Member.worksite).like(like)))
    members = db.paginate(select.order_by(Member.last_name, Member.first_name, Member.id),
                          page=page, per_page=ROSTER_PAGE_SIZE, error_out=False)
    return render_template("admin/roster.html", members=members, query=query, form=form, problems=problems,
                           claims=roster_service.open_claims(current_fund()), claim_form=ClaimDecisionForm()), status


@bp.get("/roster")
@roles_required(Role.TREASURER)
def roster():
    query = request.args.get("q", "").strip()[:100]
    page = max(int_arg("page", 1), 1)
    return _render_roster(RosterImportForm(), query=query, page=page)


@bp.post("/roster/import")
@roles_required(Role.TREASURER)
def import_roster():
    form = RosterImportForm()
    problems = []
    if form.validate_on_submit():
        try:
            result = roster_service.import_roster(current_fund(), form.file.data.read(), actor=current_user)
        except roster_service.RosterInvalid as exc:
            db.session.rollback()
            form.file.errors.append(str(exc))
            problems = exc.problems
        else:
            db.session.commit()
            flash(_("Roster imported: %(created)d new, %(updated)d updated, %(unchanged)d unchanged.",
                    created=result.created, updated=result.updated, unchanged=result.unchanged), "success")
            return redirect(url_for("admin.roster"))
    return _render_roster(form, problems=problems, status=422)


@bp.post("/roster/claims/<int:claim_id>")
@roles_required(Role.TREASURER)
def resolve_claim(claim_id: int):
    """A membership proved by a second account: keep the link, or give it to the new account."""
    claim = db.session.get(MembershipClaim, claim_id)
    if claim is None or claim.fund_id != current_fund().id:
        abort(404)
    form = ClaimDecisionForm()
    if form.validate_on_submit():
        try:
            roster_service.resolve_claim(claim, "moved" if form.submit_move.data else "kept", actor=current_user)
        except services.LinkRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Member %(member)s is linked to %(email)s.", member=claim.member.member_id,
                    email=claim.member.user.email), "success")
    return redirect(url_for("admin.roster"))
