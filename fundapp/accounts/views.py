"""Sign-up, sign-in and out, password reset, the profile and membership proof."""
from __future__ import annotations

import time

from flask import Blueprint, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from fundapp import throttle
from fundapp.accounts import membership as roster_service
from fundapp.accounts import services, two_factor
from fundapp.accounts import sessions as account_sessions
from fundapp.accounts.forms import (
    ChangePasswordForm,
    CodeForm,
    ConfirmRegistrationForm,
    LinkMemberForm,
    LoginForm,
    NewPasswordForm,
    ProfileForm,
    RegisterForm,
    ResetRequestForm,
)
from fundapp.accounts.models import Role
from fundapp.extensions import db
from fundapp.funds.services import current_fund
from fundapp.metrics import SIGN_IN_FAILURES
from fundapp.policy import SECOND_FACTOR_SESSION_KEY, public, roles_required, signed_in
from fundapp.web import safe_next, show_error

bp = Blueprint("accounts", __name__)


def _sign_in(user, remember: bool = False, second_factor: bool = False) -> None:
    session.clear()  # a fresh session at sign-in: nothing carried over from before
    account_sessions.start_session(user, ip=request.remote_addr or "", user_agent=request.user_agent.string)
    db.session.commit()
    login_user(user, remember=remember)
    session["language"] = user.language
    if second_factor:  # policy.enforce_access signs out a trustee's or treasurer's session without it
        session[SECOND_FACTOR_SESSION_KEY] = True


PENDING_SECONDS = 600  # the password was right this long ago: time enough to find the phone


def _sign_in_or_ask_for_code(user, remember: bool, next_url: str):
    """Sign in; or, for trustees and the treasurer, first ask for the second factor (enrolling it the
    first time). Until then the session holds only who is waiting, never a signed-in user."""
    if not two_factor.required_for(user):
        _sign_in(user, remember=remember)
        return None
    session.clear()
    session.update(pending_user=account_sessions.pending_key(user), pending_remember=bool(remember), pending_next=next_url,
                   pending_since=int(time.time()), language=user.language)
    return redirect(url_for("accounts.second_factor" if two_factor.enrolled(user)
                            else "accounts.setup_second_factor"))


def _pending_user():
    """The account whose password was just given, while it waits for its second factor."""
    if time.time() - session.get("pending_since", 0) > PENDING_SECONDS:
        return None
    user = account_sessions.user_for_pending_key(session.get("pending_user") or "")  # a new password ends the wait too
    return user if user is not None and two_factor.required_for(user) else None


def _secret_page(body: str, status: int = 200):
    """A page showing a secret (the app's key, recovery codes): never kept by the browser or a proxy."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _finish_second_factor(user):
    remember, next_url = session.get("pending_remember", False), session.get("pending_next")
    _sign_in(user, remember=remember, second_factor=True)
    return safe_next(next_url, _work_of(user))


def _work_of(user) -> str:
    """Where a person lands after signing in: their work, not their account page (the treasurer: the dashboard;
    a trustee: the queue; a member: their applications)."""
    roles = user.roles_in(current_fund().id)
    if Role.TREASURER in roles:
        return url_for("reporting.dashboard")
    if Role.TRUSTEE in roles:
        return url_for("review.queue")
    if Role.APPLICANT in roles:
        return url_for("applications.mine")
    return url_for("accounts.account")


@bp.route("/register", methods=["GET", "POST"])
@public
def register():
    """Sign up: the same page afterwards whether or not the address has an account (the mail says which)."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.account"))
    form = RegisterForm(language=session.get("language", "en"))
    if form.validate_on_submit():
        try:
            services.start_registration(current_fund(), email=form.email.data, name=form.name.data,
                                        password=form.password.data, language=form.language.data)
        except services.AccountError as exc:
            db.session.rollback()
            show_error(form, exc, "email")
        else:
            db.session.commit()  # the worker sends the mail
            return render_template("accounts/register_sent.html", email=services.normalise_email(form.email.data))
    return render_template("accounts/register.html", form=form), 422 if form.errors else 200


@bp.route("/register/<token>", methods=["GET", "POST"])
@public
def confirm_registration(token: str):
    """The link mailed at sign-up: a button makes the account (a GET changes nothing, so a mail scanner that
    opens links cannot use it up)."""
    form = ConfirmRegistrationForm()
    try:
        if not form.validate_on_submit():
            services.pending_registration(token)
            return render_template("accounts/register_confirm.html", form=form)
        user = services.confirm_registration(token)
    except services.InvalidRegistrationLink as exc:
        db.session.commit()  # a registration whose address now has an account is forgotten
        flash(str(exc), "error")
        return redirect(url_for("accounts.register"))
    db.session.commit()
    _sign_in(user)
    flash(_("Welcome, %(name)s. Your account is ready. Next, confirm your union membership.", name=user.name),
          "success")
    return redirect(url_for("accounts.membership"))


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), _work_of(current_user)))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            db.session.rollback()
            SIGN_IN_FAILURES.labels(step="password").inc()
            form.password.errors.append(_("The email address or password is not right. Try again, or reset your password."))
        else:
            db.session.commit()
            next_url = safe_next(request.args.get("next"), _work_of(user))
            ask = _sign_in_or_ask_for_code(user, form.remember.data, next_url)
            if ask is not None:
                return ask
            flash(_("You are signed in."), "success")
            return redirect(next_url)
    status = 422 if form.errors else 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/login/code", methods=["GET", "POST"])
@public
def second_factor():
    user = _pending_user()
    if user is None or not two_factor.enrolled(user):
        flash(_("Please sign in again."), "info")
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    if form.validate_on_submit():
        if two_factor.verify(user, form.code.data):
            db.session.commit()
            target = _finish_second_factor(user)
            flash(_("You are signed in."), "success")
            left = two_factor.recovery_codes_left(user)
            if left <= 3:
                flash(_("You have %(num)s recovery codes left: make new ones on your account page.", num=left),
                      "info")
            return redirect(target)
        db.session.rollback()
        SIGN_IN_FAILURES.labels(step="code").inc()
        form.code.errors.append(_("That code is not right, or was already used. Type the newest code from your "
                                  "authenticator app, or one of your recovery codes."))
    return render_template("accounts/second_factor.html", form=form), 422 if form.errors else 200


@bp.route("/login/setup", methods=["GET", "POST"])
@public
def setup_second_factor():
    """First sign-in of a trustee or treasurer: connect an authenticator app, then keep the recovery codes."""
    user = _pending_user()
    if user is None or two_factor.enrolled(user):
        flash(_("Please sign in again."), "info")
        return redirect(url_for("accounts.login"))
    if not session.get("pending_secret"):  # in this browser's session only; a reload keeps the one scanned
        session["pending_secret"] = two_factor.new_secret()
    secret = session["pending_secret"]
    form = CodeForm()
    if form.validate_on_submit():
        codes = two_factor.confirm_enrolment(user, secret, form.code.data)
        if codes is not None:
            services.notify_second_factor_enabled(user)
            db.session.commit()
            target = _finish_second_factor(user)
            return _secret_page(render_template("accounts/recovery_codes.html", codes=codes, next_url=target))
        db.session.rollback()
        SIGN_IN_FAILURES.labels(step="code").inc()
        form.code.errors.append(_("That code is not right. Type the 6 digits your authenticator app shows now."))
    uri = two_factor.provisioning_uri(user, secret, current_fund().name)
    return _secret_page(render_template("accounts/setup_second_factor.html", form=form, secret=secret,
                                        qr=two_factor.qr_code_data_uri(uri)), 422 if form.errors else 200)


@bp.post("/account/recovery-codes")
@signed_in
def new_recovery_codes():
    """New recovery codes (the old stop working), after a fresh code from the app."""
    if not two_factor.enrolled(current_user) or not two_factor.verify(current_user, request.form.get("code", ""),
                                                                      recovery=False):
        db.session.rollback()
        throttle.code_refused()
        flash(_("That code is not right. Type the 6 digits your authenticator app shows now."), "error")
        return redirect(url_for("accounts.account"))
    codes = two_factor.new_recovery_codes(current_user)
    db.session.commit()
    return _secret_page(render_template("accounts/recovery_codes.html", codes=codes,
                                        next_url=url_for("accounts.account")))


@bp.post("/logout")
@signed_in
def logout():
    account_sessions.end_session(current_user.session_token, "logout")  # a copy of the cookie stops working too
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("main.home"))


@bp.route("/reset", methods=["GET", "POST"])
@public
def request_reset():
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(current_fund(), form.email.data)  # the worker mails the link
        db.session.commit()  # no page waits on the mail server
        flash(_("If an account uses that address, we have sent it a link to choose a new password. "
                "The link works for one hour."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_request.html", form=form), 422 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    try:
        user = services.user_for_reset_token(token)
    except services.InvalidResetLink as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.request_reset"))
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(user, form.password.data)
        except services.AccountError as exc:
            show_error(form, exc, "password")
        else:
            db.session.commit()
            ask = _sign_in_or_ask_for_code(user, False, url_for("accounts.account"))
            if ask is not None:
                flash(_("Your new password is saved. Now the code from your authenticator app."), "success")
                return ask
            flash(_("Your new password is saved and you are signed in."), "success")
            return redirect(url_for("accounts.account"))
    return render_template("accounts/reset_password.html", form=form), 422 if form.errors else 200


def _render_account(profile_form: ProfileForm, password_form: ChangePasswordForm):
    status = 422 if profile_form.errors or password_form.errors else 200
    member = roster_service.member_of(current_user, current_fund())
    second_factor = ({"left": two_factor.recovery_codes_left(current_user)}
                     if two_factor.enrolled(current_user) else None)
    return render_template("accounts/account.html", form=profile_form, member=member,
                           password_form=password_form, second_factor=second_factor,
                           sessions=account_sessions.open_sessions(current_user),
                           this_session=account_sessions.session_row(current_user.session_token)), status


@bp.route("/account", methods=["GET", "POST"])
@signed_in
def account():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        services.update_profile(current_user, name=form.name.data, language=form.language.data)
        db.session.commit()
        session["language"] = current_user.language
        flash(_("Saved."), "success")
        return redirect(url_for("accounts.account"))
    return _render_account(form, ChangePasswordForm(formdata=None))


@bp.post("/account/password")
@signed_in
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not services.verify_password(current_user, form.current.data):
            form.current.errors.append(_("Your current password is not right."))
        else:
            try:
                services.change_password(current_user, form.password.data)
            except services.AccountError as exc:
                show_error(form, exc, "password")
            else:
                db.session.commit()
                _sign_in(current_user._get_current_object(),
                         second_factor=bool(session.get(SECOND_FACTOR_SESSION_KEY)))
                flash(_("Your password is changed. Other devices have been signed out."), "success")
                return redirect(url_for("accounts.account"))
    db.session.rollback()
    return _render_account(ProfileForm(obj=current_user), form)


@bp.post("/account/sessions/end")
@signed_in
def end_all_sessions():
    """Sign out everywhere: every session of this person ends, this one included (a lost phone, a shared
    computer)."""
    account_sessions.end_sessions(current_user, "everywhere")
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out everywhere: on this device and all others. Sign in again to continue."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/membership", methods=["GET", "POST"])
@roles_required(Role.APPLICANT)
def membership():
    fund = current_fund()
    member = roster_service.member_of(current_user, fund)
    form = LinkMemberForm()
    if member is None and form.validate_on_submit():
        try:
            member = roster_service.link_member(current_user, fund, member_id=form.member_id.data,
                                          last_name=form.last_name.data, phone_last4=form.phone_last4.data)
        except services.LinkRefused as exc:
            db.session.commit()  # a claim on a member linked to someone else is kept for the treasurer
            form.member_id.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Thank you, %(name)s: your membership is confirmed.", name=member.first_name), "success")
            return redirect(url_for("accounts.membership"))
    return render_template("accounts/membership.html", form=form, member=member, fund=fund), 422 if form.errors else 200
