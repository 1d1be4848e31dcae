"""Server-side sessions: a signed-in browser holds a random token whose hash names a ``user_sessions`` row; a
new password, a change of trustee or treasurer role and deactivation end all of a person's sessions, and one
idle past its limit ends when next used. A donor signed in by an emailed link holds one too."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy.orm import contains_eager

from fundapp.accounts.models import Role, RoleGrant, User, UserSession
from fundapp.extensions import begin_write, db, utcnow
from fundapp.funds.models import Fund
from fundapp.funds.mount import requested_slug
from fundapp.funds.services import fund_stamp_columns, note_fund_stamp

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
    # The user, their session and their role grants in one round trip (the access check reads the grants next),
    # and the stamp of the request's fund, which current_fund() would otherwise read in a round trip of its own.
    slug = requested_slug()
    found = db.session.execute(
        db.select(UserSession, User, *fund_stamp_columns()).join(User, User.id == UserSession.user_id)
        .outerjoin(RoleGrant, RoleGrant.user_id == User.id).outerjoin(Fund, Fund.slug == slug)
        .options(contains_eager(User.grants))
        .where(UserSession.token_hash == _token_hash(token), UserSession.revoked_at.is_(None))).unique().first()
    if found is None:
        return None
    row, user, fund_version, fund_made = found
    note_fund_stamp(fund_version, fund_made)
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


#: How long an ended session's row (its address and browser, for the person's own list) is kept.
ENDED_KEPT = timedelta(days=90)


def purge_ended(now=None) -> int:
    """Delete the rows of sessions that ended (signed out, revoked, or idle) more than ``ENDED_KEPT`` ago: the
    address and browser they hold are personal data the fund no longer needs. Returns how many went."""
    cutoff = (now or utcnow()) - ENDED_KEPT
    ended = db.or_(UserSession.revoked_at < cutoff,
                   db.and_(UserSession.revoked_at.is_(None), UserSession.last_seen_at < cutoff))
    return db.session.execute(db.delete(UserSession).where(ended)).rowcount or 0
