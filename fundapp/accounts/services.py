"""Use cases of accounts and the roster: one function each; they flush, callers commit.

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

import csv
import hashlib
import io
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import force_locale, gettext as _
from sqlalchemy.exc import IntegrityError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from fundapp.accounts.models import (ClaimOutcome, Language, Member, MembershipClaim, PendingRegistration, Role,
                                     RoleGrant, User, UserSession)
from fundapp.audit.services import record_change
from fundapp.extensions import begin_write, db, utcnow
from fundapp.funds.models import Fund
from fundapp.mail import public_link, queue_mail, queue_request, request_handler

MIN_PASSWORD_LENGTH = 10
# The most common passwords that still pass the length rule (lists of leaked passwords).
COMMON_PASSWORDS = frozenset(
    """
    1234567890 12345678910 0123456789 1111111111 0000000000 qwertyuiop 1q2w3e4r5t
    password12 password123 password1234 passw0rd123 iloveyou12 qwerty1234 qwerty12345
    abcdefghij abc1234567 1qaz2wsx3edc zaq12wsxcde letmein123 welcome123 administrator
    changeme123 football12 baseball12 sunshine12 princess12 solidarity solidarity1
    unionstrong onstrike123 strikefund strikefund1 hardshipfund
    """.split()
)


class AccountError(Exception):
    """A use case refused; ``str(error)`` is a message for the user, ``field`` the input at fault."""

    field: str | None = None

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        if field is not None:
            self.field = field


class EmailTaken(AccountError):
    field = "email"


class WeakPassword(AccountError):
    field = "password"


class InvalidResetLink(AccountError):
    pass


class LastTreasurer(AccountError):
    pass


class LinkRefused(AccountError):
    pass


class InvalidRegistrationLink(AccountError):
    pass


# --- passwords ------------------------------------------------------------------


def _hasher() -> PasswordHasher:
    return PasswordHasher(**current_app.config["PASSWORD_HASH"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def password_problems(password: str, *, email: str = "", name: str = "") -> list[str]:
    """Why a password is too weak (an empty list when it is fine)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(_("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(lowered)) < 4:
        problems.append(_("This password is too common or too easy to guess."))
    local_part = email.split("@")[0].lower()
    if (local_part and len(local_part) >= 4 and local_part in lowered) or (
        name and name.lower().replace(" ", "") == lowered.replace(" ", "")
    ):
        problems.append(_("Do not use your name or email address as your password."))
    return problems


def _check_password(password: str, email: str, name: str) -> None:
    problems = password_problems(password, email=email, name=name)
    if problems:
        raise WeakPassword(" ".join(problems))


def normalise_email(email: str) -> str:
    """Check an email's shape and return it lower-cased; raises AccountError."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(_("Enter a valid email address."), field="email") from exc
    return result.normalized.lower()


# --- sessions ---------------------------------------------------------------------------

#: A session's ``last_seen_at`` is written at most this often, not on every request.
SEEN_EVERY = timedelta(minutes=1)
STAFF_ROLES = frozenset({Role.TRUSTEE, Role.TREASURER})


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_staff(user: User) -> bool:
    """A trustee or treasurer of any fund: their sessions idle out sooner (``STAFF_IDLE_MINUTES``)."""
    return any(Role(g.role) in STAFF_ROLES for g in user.grants)


def idle_limit(user: User) -> timedelta:
    config = current_app.config
    return timedelta(minutes=config["STAFF_IDLE_MINUTES"] if is_staff(user) else config["MEMBER_IDLE_MINUTES"])


def browser_summary(user_agent: str) -> str:
    """A short, recognisable name of a browser for the person's list of sessions ("Firefox on Android")."""
    agent = user_agent or ""
    browser = next((name for key, name in (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
                                           ("Chrome/", "Chrome"), ("Safari/", "Safari")) if key in agent), "")
    system = next((name for key, name in (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
                                          ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux"))
                   if key in agent), "")
    summary = f"{browser} / {system}" if browser and system else browser or system or agent
    return summary[:120]


def start_session(user: User, *, ip: str = "", user_agent: str = "") -> str:
    """Open a server-side session for a sign-in and return its id (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(UserSession(token_hash=_token_hash(token), user_id=user.id, created_at=now, last_seen_at=now,
                               ip=(ip or "")[:45], user_agent=browser_summary(user_agent)))
    db.session.flush()
    user.session_token = token
    return token


def load_user(token: str) -> User | None:
    """Flask-Login's loader: the user of an open session, or None (ended, idle too long, unknown).

    Runs once per request (the access policy asks before the view). Marks the session seen at most once a
    minute, in a short write of its own, and ends it when it idled past the limit."""
    if not token or len(token) > 100:
        return None
    found = db.session.execute(db.select(UserSession, User).join(User, User.id == UserSession.user_id).where(
        UserSession.token_hash == _token_hash(token), UserSession.revoked_at.is_(None))).first()
    if found is None:
        return None
    row, user = found
    if not user.active:
        return None
    if not _still_open(row, idle_limit(user)):
        return None
    user = db.session.get(User, row.user_id)
    user.session_token = token
    return user


def _still_open(row: UserSession, idle: timedelta) -> bool:
    """End a session unused longer than ``idle``; else mark it seen (at most once a minute, a short write of
    its own: nothing else is pending, since the access check asks first, before the view)."""
    now = utcnow()
    if now - row.last_seen_at > idle:
        _end_where(UserSession.id == row.id, "idle")
        return False
    if now - row.last_seen_at >= SEEN_EVERY:
        row_id = row.id
        db.session.commit()
        begin_write()
        db.session.execute(db.update(UserSession).where(UserSession.id == row_id,
                                                        UserSession.last_seen_at < now - SEEN_EVERY)
                           .values(last_seen_at=now).execution_options(synchronize_session=False))
        db.session.commit()
    return True


def start_donor_session(donor_id: int, *, ip: str = "", user_agent: str = "") -> str:
    """Open a server-side session for a donor who followed their emailed link; returns its id."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(UserSession(token_hash=_token_hash(token), donor_id=donor_id, created_at=now, last_seen_at=now,
                               ip=(ip or "")[:45], user_agent=browser_summary(user_agent)))
    db.session.flush()
    return token


def donor_of_session(token: str | None) -> int | None:
    """The donor of an open donor session (idling ends it after ``MEMBER_IDLE_MINUTES``), or None."""
    if not token or not isinstance(token, str) or len(token) > 100:
        return None
    row = db.session.scalar(db.select(UserSession).where(UserSession.token_hash == _token_hash(token),
                                                         UserSession.donor_id.is_not(None),
                                                         UserSession.revoked_at.is_(None)))
    if row is None:
        return None
    donor_id = row.donor_id
    idle = timedelta(minutes=current_app.config["MEMBER_IDLE_MINUTES"])
    return donor_id if _still_open(row, idle) else None


def _end_where(condition, reason: str, *, commit: bool = True) -> int:
    if commit:
        db.session.commit()
        begin_write()
    ended = db.session.execute(db.update(UserSession).where(condition, UserSession.revoked_at.is_(None))
                               .values(revoked_at=utcnow(), revoked_reason=reason)
                               .execution_options(synchronize_session=False)).rowcount
    if commit:
        db.session.commit()
    return ended


def end_session(token: str | None, reason: str = "logout") -> None:
    """End one session (sign-out); flushes, the caller commits."""
    if token:
        _end_where(UserSession.token_hash == _token_hash(token), reason, commit=False)


def end_sessions(user: User, reason: str) -> int:
    """End every open session of a user (a new password, a role change, "sign out everywhere"); flushes."""
    return _end_where(UserSession.user_id == user.id, reason, commit=False)


def open_sessions(user: User) -> list[UserSession]:
    """The user's sessions that still work, newest use first (an idle one that was not ended yet is left out)."""
    since = utcnow() - idle_limit(user)
    return list(db.session.scalars(db.select(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None), UserSession.last_seen_at >= since)
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())))


def session_row(token: str | None) -> UserSession | None:
    return db.session.scalar(db.select(UserSession).where(UserSession.token_hash == _token_hash(token))) \
        if token else None


def pending_key(user: User) -> str:
    """Who waits for their second factor, as kept in the session: "id:version" (a new password ends the wait)."""
    return f"{user.id}:{user.session_version}"


def user_for_pending_key(key: str) -> User | None:
    user_id, _sep, version = (key or "").partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


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
        _check_password(password, email, name)
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
    _check_password(password, email, name)
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
                     "has changed.", fund=fund.name, login=public_link("accounts.login"),
                     reset=public_link("accounts.request_reset"))
        else:
            subject = _("Finish creating your account")
            body = _("Hello %(name)s,\n\nTo finish creating your account at %(fund)s, open this link within "
                     "24 hours:\n\n%(url)s\n\nIf you did not ask for an account, ignore this message.",
                     name=name.strip(), fund=fund.name,
                     url=public_link("accounts.confirm_registration", token=token))
    queue_mail(email, subject, body, language=existing_language or language)


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
                url=set_password_url_for(make_reset_token(user, "welcome"))))
    return user


_DUMMY_HASH: str | None = None


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None (never says which part was wrong)."""
    global _DUMMY_HASH
    user = find_user_by_email(email)
    hasher = _hasher()
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
    hasher = _hasher()
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def change_password(user: User, new_password: str, *, actor=None) -> None:
    """Set a new password and end every other session of this user."""
    _check_password(new_password, user.email, user.name)
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


# --- the roster ---------------------------------------------------------------------------

ROSTER_COLUMNS = ("member_id", "first_name", "last_name", "email", "worksite", "unit", "on_strike")
#: Columns a roster may carry besides: ``phone`` (any format; only its last 4 digits are kept, to prove membership).
OPTIONAL_ROSTER_COLUMNS = ("phone",)
_MEMBER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
_LIMITS = {"first_name": 100, "last_name": 100, "worksite": 200, "unit": 100}


@dataclass
class RosterRow:
    line: int
    member_id: str
    first_name: str
    last_name: str
    email: str | None
    worksite: str
    unit: str
    on_strike: bool
    phone_last4: str | None = None


@dataclass
class RosterProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return _("Line %(line)d: %(reason)s", line=self.line, reason=self.reason)


class RosterInvalid(AccountError):
    def __init__(self, problems: list[RosterProblem]):
        self.problems = problems
        super().__init__(_("Nothing was imported: %(n)d problem(s) in the file.", n=len(problems)))


@dataclass
class RosterResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: int = field(default=0)


def parse_roster(data: bytes) -> list[RosterRow]:
    """Read a roster CSV (UTF-8, BOM or not, any column order); raise RosterInvalid listing every bad line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterInvalid([RosterProblem(1, _("The file is not UTF-8 text. Save it from your spreadsheet as \"CSV UTF-8\"."))]) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise RosterInvalid([RosterProblem(1, _("The file is empty."))]) from None
    except csv.Error as exc:
        raise RosterInvalid([RosterProblem(1, _("The file is not a readable CSV file."))]) from exc
    names = [h.strip().lower() for h in header]
    missing = [c for c in ROSTER_COLUMNS if c not in names]
    duplicated = sorted({n for n in names if n and names.count(n) > 1})
    if missing or duplicated:
        reason = []
        if missing:
            reason.append(_("missing column(s): %(cols)s", cols=", ".join(missing)))
        if duplicated:
            reason.append(_("repeated column(s): %(cols)s", cols=", ".join(duplicated)))
        raise RosterInvalid([RosterProblem(1, "; ".join(reason))])
    index = {name: names.index(name) for name in ROSTER_COLUMNS + OPTIONAL_ROSTER_COLUMNS if name in names}

    rows: list[RosterRow] = []
    problems: list[RosterProblem] = []
    seen: dict[str, int] = {}
    line = 1
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error:
            problems.append(RosterProblem(reader.line_num, _("this line is not valid CSV (check the quotes).")))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) != len(names):
            problems.append(RosterProblem(line, _("expected %(want)d values, found %(got)d.", want=len(names), got=len(raw))))
            continue
        value = {name: raw[i].strip() for name, i in index.items()}
        reasons = []
        member_id = value["member_id"]
        if not member_id:
            reasons.append(_("member_id is empty"))
        elif not _MEMBER_ID.match(member_id):
            reasons.append(_("member_id \"%(v)s\" may use only letters, digits and . _ / - (up to 40)", v=member_id[:40]))
        elif member_id.upper() in seen:
            reasons.append(_("member_id %(v)s repeats line %(first)d", v=member_id, first=seen[member_id.upper()]))
        for name, limit in _LIMITS.items():
            if not value[name]:
                reasons.append(_("%(col)s is empty", col=name))
            elif len(value[name]) > limit:
                reasons.append(_("%(col)s is longer than %(n)d characters", col=name, n=limit))
        email = value["email"] or None
        if email:
            try:
                email = validate_email(email, check_deliverability=False).normalized.lower()
            except EmailNotValidError:
                reasons.append(_("email \"%(v)s\" is not a valid address", v=value["email"][:60]))
        phone_digits = "".join(c for c in value.get("phone", "") if c.isdigit())
        if value.get("phone") and len(phone_digits) < 4:
            reasons.append(_("phone \"%(v)s\" has fewer than 4 digits", v=value["phone"][:30]))
        strike = value["on_strike"].lower()
        if strike not in ("yes", "no"):
            reasons.append(_("on_strike must be yes or no, not \"%(v)s\"", v=value["on_strike"][:20]))
        if reasons:
            problems.append(RosterProblem(line, "; ".join(reasons)))
            continue
        seen[member_id.upper()] = line
        rows.append(RosterRow(line, member_id, value["first_name"], value["last_name"], email,
                              value["worksite"], value["unit"], strike == "yes", phone_digits[-4:] or None))
    if problems:
        raise RosterInvalid(problems)
    if not rows:
        raise RosterInvalid([RosterProblem(max(line, 2), _("The file has a header but no members."))])
    return rows


def import_roster(fund: Fund, data: bytes, *, actor=None) -> RosterResult:
    """Upsert the roster by member id, all or nothing."""
    rows = parse_roster(data)
    existing = {m.member_id.upper(): m for m in db.session.scalars(db.select(Member).filter_by(fund_id=fund.id))}
    result = RosterResult(rows=len(rows))
    fields = ("member_id", "first_name", "last_name", "email", "worksite", "unit", "on_strike", "phone_last4")
    for row in rows:
        member = existing.get(row.member_id.upper())
        if member is None:
            db.session.add(Member(fund_id=fund.id, **{f: getattr(row, f) for f in fields}))
            result.created += 1
        elif any(getattr(member, f) != getattr(row, f) for f in fields):
            for f in fields:
                setattr(member, f, getattr(row, f))
            result.updated += 1
        else:
            result.unchanged += 1
    db.session.flush()
    record_change("roster.import", "roster", fund.id, actor=actor, fund_id=fund.id,
                  after={"rows": result.rows, "created": result.created, "updated": result.updated,
                         "sha256": hashlib.sha256(data).hexdigest()})
    return result


def _fold(text: str) -> str:
    """Compare names as people type them: case, accents and spaces ignored."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def member_of(user: User, fund: Fund) -> Member | None:
    return db.session.scalar(db.select(Member).filter_by(fund_id=fund.id, user_id=user.id))


def _not_confirmed(fund: Fund) -> LinkRefused:
    """The one answer to every failed proof: it never says whether the number exists or is linked."""
    return LinkRefused(_(
        "We could not confirm your membership with these details. Check them against your union card, "
        "or write to %(email)s so the fund can check the roster.", email=fund.contact_email))


def _same_digits(typed: str | None, expected: str) -> bool:
    digits = "".join(c for c in (typed or "") if c.isdigit())
    return secrets.compare_digest(digits[-4:].encode(), expected.encode()) if len(digits) >= 4 else False


def link_member(user: User, fund: Fund, *, member_id: str, last_name: str, phone_last4: str | None = None) -> Member:
    """Prove membership: link the account to the roster entry with this number, last name and (when the roster
    has it) the last 4 digits of the phone. A proof of an entry linked to someone else alerts the treasurer."""
    if member_of(user, fund) is not None:
        raise LinkRefused(_("Your account is already linked to a membership."))
    member = db.session.scalar(
        db.select(Member).where(Member.fund_id == fund.id,
                                db.func.upper(Member.member_id) == member_id.strip().upper())
    )
    if (member is None or _fold(member.last_name) != _fold(last_name)
            or (member.phone_last4 and not _same_digits(phone_last4, member.phone_last4))):
        raise _not_confirmed(fund)
    if member.user_id is not None:
        _claim_linked_member(fund, member, user)
        raise _not_confirmed(fund)
    # A conditional update, so two accounts racing for one entry cannot both win.
    linked = db.session.execute(
        db.update(Member)
        .where(Member.id == member.id, Member.user_id.is_(None))
        .values(user_id=user.id, linked_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if linked != 1:
        db.session.refresh(member)
        _claim_linked_member(fund, member, user)
        raise _not_confirmed(fund)
    db.session.refresh(member)
    record_change("member.link", "member", member.id, actor=user, fund_id=fund.id,
                  after={"member_id": member.member_id, "user_id": user.id})
    return member


def _treasurers(fund: Fund) -> list[User]:
    return list(db.session.scalars(
        db.select(User).join(RoleGrant).where(RoleGrant.fund_id == fund.id, RoleGrant.role == Role.TREASURER.value,
                                              User.active.is_(True)).order_by(User.id)))


def _claim_linked_member(fund: Fund, member: Member, claimant: User) -> MembershipClaim:
    """Someone proved an entry another account holds: one open claim per (entry, claimant), the treasurers
    are mailed, and the link stays as it is until a treasurer decides (``resolve_claim``)."""
    claim = db.session.scalar(db.select(MembershipClaim).filter_by(
        member_id=member.id, claimant_id=claimant.id, resolved_at=None))
    if claim is not None:
        return claim
    claim = MembershipClaim(fund_id=fund.id, member_id=member.id, claimant_id=claimant.id, holder_id=member.user_id)
    db.session.add(claim)
    db.session.flush()
    record_change("member.claim", "membership_claim", claim.id, actor=claimant, fund_id=fund.id,
                  after={"member_id": member.member_id, "claimant": claimant.id, "holder": member.user_id})
    for treasurer in _treasurers(fund):
        with force_locale(treasurer.language):
            queue_mail(treasurer.email, _("A membership was claimed twice"), _(
                "Hello %(name)s,\n\nThe account %(claimant)s gave the right details of roster member %(member)s, "
                "who is already linked to another account. One of the two may not be the member. Nothing has "
                "changed yet: decide on the roster page whether to keep the link or give it to the new "
                "account:\n\n%(url)s", name=treasurer.name, claimant=claimant.email, member=member.member_id,
                url=public_link("admin.roster")))
    return claim


def open_claims(fund: Fund) -> list[MembershipClaim]:
    return list(db.session.scalars(db.select(MembershipClaim).filter_by(fund_id=fund.id, resolved_at=None)
                                   .order_by(MembershipClaim.id)))


def resolve_claim(claim: MembershipClaim, outcome: str, *, actor) -> None:
    """The treasurer keeps the link, or unlinks the entry and links the claimant instead (if they hold no other)."""
    outcome = ClaimOutcome(outcome)
    if claim.resolved_at is not None:
        raise LinkRefused(_("This claim was already decided."))
    fund = db.session.get(Fund, claim.fund_id)
    member = db.session.scalar(db.select(Member).where(Member.id == claim.member_id).with_for_update())
    before = {"user_id": member.user_id}
    if outcome is ClaimOutcome.MOVED:
        if member_of(claim.claimant, fund) is not None:
            raise LinkRefused(_("The new account is already linked to another membership."))
        member.user_id, member.linked_at = claim.claimant_id, utcnow()
        # every other claim on this entry is settled by this decision
        for other in db.session.scalars(db.select(MembershipClaim).filter_by(member_id=member.id, resolved_at=None)):
            if other.id != claim.id:
                other.resolved_at, other.resolved_by_id, other.outcome = utcnow(), actor.id, ClaimOutcome.KEPT.value
    claim.resolved_at, claim.resolved_by_id, claim.outcome = utcnow(), actor.id, outcome.value
    db.session.flush()
    record_change("member.claim_resolved", "membership_claim", claim.id, actor=actor, fund_id=fund.id,
                  before=before, after={"user_id": member.user_id, "outcome": outcome.value})
