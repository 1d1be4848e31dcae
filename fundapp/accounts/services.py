"""Use cases of accounts: registration, sign-in, password reset and roles; one function each; they flush,
callers commit. Passwords are in ``passwords``, sessions in ``sessions``, the roster and membership proof in
``membership``.

Rules enforced here (forms only check shape):
- emails are unique whatever their case; passwords are hashed with argon2id;
- sign-in failures say the same thing whether or not the account exists;
- a reset link is signed, expires, and dies once the password changes;
- a session is a server-side row (``start_session``); a new password, a change of trustee or treasurer role
  and deactivation end all of a person's sessions, and one idle past its limit ends when next used;
- the last treasurer of a fund cannot lose that role or be deactivated;
- a roster import is all or nothing; a roster entry links to at most one account;
- no answer says whether an address has an account or a member number exists or is linked:
  registration always mails the address (a link to finish, or a warning that it already has an
  account) and shows one page; reset requests are answered by the worker (``mail.queue_request``);
  every failed membership proof gets one message;
- a member is proved by number, last name and, when the roster carries it, the last 4 digits of
  their phone; proving an entry already linked alerts the treasurer, who decides (never moved by itself).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from fundapp.accounts.errors import (  # noqa: F401 (callers know them here)
    AccountError,
    EmailTaken,
    InvalidRegistrationLink,
    InvalidResetLink,
    LastTreasurer,
    LinkRefused,
    WeakPassword,
)
from fundapp.accounts.models import Language, PendingRegistration, Role, RoleGrant, User
from fundapp.accounts.passwords import check_new_password, hash_password, normalise_email, password_hasher
from fundapp.accounts.sessions import STAFF_ROLES, end_sessions
from fundapp.audit.services import record_change
from fundapp.extensions import db, utcnow
from fundapp.funds.models import Fund
from fundapp.mail import public_link, queue_mail, queue_request, request_handler


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(db.select(User).filter_by(email=email.strip().lower()))


# --- registration and sign-in ----------------------------------------------------------


def _new_user(email: str, name: str, password: str | None, language: str) -> User:
    email = normalise_email(email)
    if find_user_by_email(email) is not None:
        raise EmailTaken(_("An account with this email address already exists. Sign in or reset your password."))
    if password is None:
        password = secrets.token_urlsafe(32)  # nobody knows it; the owner sets their own by link
    else:
        check_new_password(password, email, name)
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        language=Language(language).value,
    )
    try:
        with db.session.begin_nested():  # a concurrent sign-up with the same email loses here
            db.session.add(user)
    except IntegrityError as exc:
        raise EmailTaken(_("An account with this email address already exists. Sign in or reset your password.")) from exc
    return user


REGISTRATION_LINK_MAX_AGE = 24 * 3600


def start_registration(fund: Fund, *, email: str, name: str, password: str, language: str = "en") -> None:
    """A striking member signs up: the address is mailed a link that finishes the account, or, if an account
    already uses it, a warning. Both ways do the same work (a password hash, one waiting row, one mail), so
    neither the page nor its time says which it was."""
    email = normalise_email(email)
    check_new_password(password, email, name)
    language = Language(language).value
    token = secrets.token_urlsafe(32)
    # sign-ups never finished are forgotten once their link has expired (with the password hash they hold)
    db.session.execute(db.delete(PendingRegistration).where(
        PendingRegistration.created_at < utcnow() - timedelta(seconds=REGISTRATION_LINK_MAX_AGE))
        .execution_options(synchronize_session=False))
    db.session.add(PendingRegistration(fund_id=fund.id, token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                                       email=email, name=name.strip(), password_hash=hash_password(password),
                                       language=language))
    # one statement either way (a whole User would load its roles too, a query the new address would not make)
    existing_language = db.session.scalar(db.select(User.language).filter_by(email=email))
    with force_locale(existing_language or language):
        if existing_language is not None:  # the link is never sent: its row only makes the same work, and expires
            subject = _("Someone tried to create an account with your address")
            body = _("Hello,\n\nSomeone just tried to create an account at %(fund)s with this email address, "
                     "which already has an account. If it was you, sign in, or choose a new password if you "
                     "forgot it:\n\n%(login)s\n%(reset)s\n\nIf it was not you, ignore this message: nothing "
                     "has changed.", fund=fund.name, login=public_link("accounts.login", fund=fund),
                     reset=public_link("accounts.request_reset", fund=fund))
        else:
            subject = _("Finish creating your account")
            body = _("Hello %(name)s,\n\nTo finish creating your account at %(fund)s, open this link within "
                     "24 hours:\n\n%(url)s\n\nIf you did not ask for an account, ignore this message.",
                     name=name.strip(), fund=fund.name,
                     url=public_link("accounts.confirm_registration", fund=fund, token=token))
    queue_mail(email, subject, body, language=existing_language or language, fund_id=fund.id)


def pending_registration(token: str) -> PendingRegistration:
    """The registration a mailed link finishes; raises InvalidRegistrationLink if expired, used or forged."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    pending = db.session.scalar(db.select(PendingRegistration).filter_by(token_sha256=digest))
    if pending is None or (utcnow() - pending.created_at).total_seconds() > REGISTRATION_LINK_MAX_AGE:
        raise InvalidRegistrationLink(_("This link is not valid any more. Create your account again, or sign in "
                                        "if you already have one."))
    return pending


def confirm_registration(token: str) -> User:
    """Follow the mailed link: make the applicant account the registration asked for; the link works once."""
    pending = pending_registration(token)
    fund = db.session.get(Fund, pending.fund_id)
    if find_user_by_email(pending.email) is not None:
        db.session.delete(pending)
        raise InvalidRegistrationLink(_("An account already uses this address. Sign in, or reset your password."))
    user = User(email=pending.email, name=pending.name, password_hash=pending.password_hash,
                language=pending.language)
    try:
        with db.session.begin_nested():  # the same link followed twice at once: one account
            db.session.add(user)
    except IntegrityError as exc:
        raise InvalidRegistrationLink(_("An account already uses this address. Sign in, or reset your "
                                        "password.")) from exc
    db.session.add(RoleGrant(user=user, fund_id=fund.id, role=Role.APPLICANT.value))
    db.session.execute(db.delete(PendingRegistration).where(PendingRegistration.email == pending.email)
                       .execution_options(synchronize_session=False))
    db.session.flush()
    record_change("user.register", "user", user.id, actor=user, fund_id=fund.id,
                  after={"email": user.email, "roles": [Role.APPLICANT.value]})
    return user


def create_user(fund: Fund, *, email: str, name: str, roles, password: str | None = None, actor=None,
                language: str = "en", set_password_url_for=None) -> User:
    """The treasurer (or an operator's command) creates an account with roles.

    Without a password the account gets an unguessable one and the person is
    emailed a link to choose their own.
    """
    roles = sorted({Role(r) for r in roles})
    if not roles:
        raise AccountError(_("Choose at least one role."))
    user = _new_user(email, name, password, language)
    for role in roles:
        db.session.add(RoleGrant(user=user, fund_id=fund.id, role=role.value))
    db.session.flush()
    record_change("user.create", "user", user.id, actor=actor, fund_id=fund.id,
                  after={"email": user.email, "roles": [r.value for r in roles]})
    if password is None and set_password_url_for is not None:
        with force_locale(user.language):
            queue_mail(user.email, _("Your account at %(fund)s", fund=fund.name), _(
                "Hello %(name)s,\n\n%(fund)s has made you an account. Choose your password "
                "within 7 days with this link:\n\n%(url)s\n\nThen sign in with %(email)s.",
                name=user.name, fund=fund.name, email=user.email,
                url=set_password_url_for(make_reset_token(user, "welcome"))), fund_id=fund.id)
    return user


_DUMMY_HASH: str | None = None


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None (never says which part was wrong)."""
    global _DUMMY_HASH
    user = find_user_by_email(email)
    hasher = password_hasher()
    if user is None:
        # Spend the same time as a real check, so timing does not reveal who has an account.
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash("not a real password")
        try:
            hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return None
    if not verify_password(user, password) or not user.active:
        return None
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def verify_password(user: User, password: str) -> bool:
    """Check a user's password, upgrading the hash when the cost settings have changed."""
    hasher = password_hasher()
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def change_password(user: User, new_password: str, *, actor=None) -> None:
    """Set a new password and end every other session of this user."""
    check_new_password(new_password, user.email, user.name)
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    end_sessions(user, "password")
    db.session.flush()
    record_change("user.password_change", "user", user.id, actor=actor or user)


def update_profile(user: User, *, name: str, language: str) -> None:
    before = {"name": user.name, "language": user.language}
    user.name = name.strip()
    user.language = Language(language).value
    db.session.flush()
    after = {"name": user.name, "language": user.language}
    if before != after:
        record_change("user.update_profile", "user", user.id, actor=user, before=before, after=after)


# --- password reset ---------------------------------------------------------------------


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


WELCOME_LINK_MAX_AGE = 7 * 24 * 3600  # a new trustee may not read mail within the hour


def make_reset_token(user: User, purpose: str = "reset") -> str:
    """A signed link token; it dies when the password changes (session_version moves on)."""
    return _reset_serializer().dumps({"u": user.id, "v": user.session_version, "p": purpose})


def user_for_reset_token(token: str) -> User:
    """The user a reset link was made for; raises InvalidResetLink if expired, used or forged."""
    expired = InvalidResetLink(_("This link has expired. Ask for a new one below."))
    try:
        data, signed_at = _reset_serializer().loads(token, max_age=WELCOME_LINK_MAX_AGE, return_timestamp=True)
    except SignatureExpired as exc:
        raise expired from exc
    except BadSignature as exc:
        raise InvalidResetLink(_("This link is not valid. Ask for a new one below.")) from exc
    if not isinstance(data, dict):
        raise InvalidResetLink(_("This link is not valid. Ask for a new one below."))
    age = (utcnow() - signed_at).total_seconds()
    if data.get("p") != "welcome" and age > current_app.config["PASSWORD_RESET_MAX_AGE"]:
        raise expired
    user = db.session.get(User, data.get("u"))
    if user is None or not user.active or user.session_version != data.get("v"):
        raise InvalidResetLink(_("This link has already been used. Ask for a new one below."))
    return user


def notify_second_factor_enabled(user: User) -> None:
    """Tell the person by mail that an authenticator app now guards their account (someone holding only
    their password could try to connect their own)."""
    with force_locale(user.language):
        subject = _("An authenticator app is now connected to your account")
        body = _("Hello %(name)s,\n\nAn authenticator app was just connected to your hardship fund account; from "
                 "now on signing in needs a code from it.\n\nIf this was not you, tell the fund's treasurer at once: "
                 "someone has your password.", name=user.name)
    queue_mail(user.email, subject, body, language=user.language)


def request_password_reset(fund: Fund, email: str) -> None:
    """Ask the worker to mail a reset link if an active account has this address (``answer_password_reset``);
    the page does the same single write whatever the address."""
    queue_request("password-reset", fund.id, email)


@request_handler("password-reset")
def answer_password_reset(fund_id: int, email: str, language: str) -> None:
    """The worker's half: queue the reset mail if an active account has this address; nothing otherwise."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    with force_locale(user.language):
        subject = _("Reset your password")
        body = _(
            "Hello %(name)s,\n\nSomeone asked to reset the password of your hardship fund account. "
            "If it was you, open this link within %(minutes)d minutes:\n\n%(url)s\n\n"
            "If it was not you, ignore this message: your password stays as it is.",
            name=user.name,
            minutes=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60,
            url=public_link("accounts.reset_password", token=make_reset_token(user)),
        )
    queue_mail(user.email, subject, body, language=user.language)
    record_change("user.password_reset_requested", "user", user.id)


# --- roles --------------------------------------------------------------------------------


def _treasurer_count(fund: Fund) -> int:
    return db.session.scalar(
        db.select(db.func.count(RoleGrant.id))
        .join(User)
        .where(RoleGrant.fund_id == fund.id, RoleGrant.role == Role.TREASURER.value, User.active.is_(True))
    )


def set_roles(user: User, fund: Fund, roles, *, actor) -> None:
    """Replace the user's roles in this fund; the fund always keeps an active treasurer."""
    new = {Role(r) for r in roles}
    old = set(user.roles_in(fund.id))
    if new == old:
        return
    if Role.TREASURER in old and Role.TREASURER not in new and user.active and _treasurer_count(fund) <= 1:
        raise LastTreasurer(_("The fund must keep at least one active treasurer."))
    for grant in list(user.grants):
        if grant.fund_id == fund.id and Role(grant.role) not in new:
            user.grants.remove(grant)
    for role in new - old:
        user.grants.append(RoleGrant(fund_id=fund.id, role=role.value))
    if (new ^ old) & STAFF_ROLES:  # trustee or treasurer given or taken: they sign in again, with the new rights
        end_sessions(user, "roles")
    db.session.flush()
    record_change("user.set_roles", "user", user.id, actor=actor, fund_id=fund.id,
                  before={"roles": sorted(old)}, after={"roles": sorted(new)})


def set_operator(user: User, operator: bool, *, actor) -> None:
    """Make ``user`` one of the host's operators, or no longer (flushes); their sessions end either way, so the
    new rights apply from their next sign-in (which asks an operator for the second factor)."""
    if user.is_operator == operator:
        return
    user.is_operator = operator
    end_sessions(user, "roles")
    db.session.flush()
    record_change("user.set_operator", "user", user.id, actor=actor, before={"operator": not operator},
                  after={"operator": operator})


def set_active(user: User, fund: Fund, active: bool, *, actor) -> None:
    """Allow or stop a user's sign-in; deactivating also ends their sessions."""
    if user.active == active:
        return
    if not active and Role.TREASURER in user.roles_in(fund.id) and _treasurer_count(fund) <= 1:
        raise LastTreasurer(_("The fund must keep at least one active treasurer."))
    user.active = active
    if not active:
        user.session_version += 1
        end_sessions(user, "deactivated")
    db.session.flush()
    record_change("user.set_active", "user", user.id, actor=actor, fund_id=fund.id,
                  before={"active": not active}, after={"active": active})
