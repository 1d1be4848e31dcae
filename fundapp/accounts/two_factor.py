"""The second factor: a time-based code (TOTP, RFC 6238) from an authenticator app, required of
everyone who can move the fund's money or read its cases (trustees and the treasurer).

- Enrolment: a secret is made and kept in the person's own session (never on their row,
  so someone holding only the password cannot see the one the person will confirm), shown
  as a QR code and text; it is saved and in use only after the person types a code it produced. Then ten recovery codes are shown, once; only
  their SHA-256 hashes are kept (each is 80 random bits, so the hash cannot be reversed).
- A code is accepted for the current 30-second step or the one before or after (clocks
  drift), and each step's code works once: a code seen over a shoulder cannot be replayed.
- A recovery code works once, in place of a code, and its use is on the audit trail.
- The treasurer can clear someone's second factor (a lost phone): they enrol again at
  their next sign-in.

Functions flush; callers commit.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import unicodedata

import pyotp
import segno
import sqlalchemy as sa

from fundapp.accounts.models import RecoveryCode, Role, User, UserSession
from fundapp.audit.services import record_change
from fundapp.extensions import db, utcnow

ISSUER = "fundapp"
RECOVERY_CODES = 10
STAFF = {Role.TRUSTEE.value, Role.TREASURER.value}


def required_for(user: User) -> bool:
    """Trustees and treasurers (of any fund) and the host's operators must use a second factor."""
    return user.is_operator or any(grant.role in STAFF for grant in user.grants)


def enrolled(user: User) -> bool:
    return user.totp_secret is not None and user.totp_enabled_at is not None


def new_secret() -> str:
    """A secret for an enrolment; the caller keeps it in the person's own session until it is confirmed, so
    nobody else (someone holding only the password) can ever be shown it."""
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str, fund_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=fund_name or ISSUER)


def qr_code_data_uri(uri: str) -> str:
    """The QR code as an SVG data URI (an <img> our Content-Security-Policy allows; no inline markup)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#000", light="#fff")


def _accept_code(user: User, code: str, secret: str | None = None) -> bool:
    """True for a code of the step before, now or after that is newer than the last one accepted. The step is
    taken with a conditional UPDATE, so two requests carrying the same code at once cannot both pass."""
    # Any script's digits (an Arabic-Indic keyboard, say) as the ASCII ones the app shows; other marks dropped.
    digits = "".join(str(d) for d in (unicodedata.decimal(ch, None) for ch in code) if d is not None)
    secret = secret or user.totp_secret
    if len(digits) != 6 or secret is None:
        return False
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    for step in (now_step - 1, now_step, now_step + 1):
        if not hmac.compare_digest(totp.at(step * totp.interval), digits):
            continue
        taken = db.session.execute(
            db.update(User).where(User.id == user.id, sa.or_(User.totp_last_step.is_(None),
                                                             User.totp_last_step < step))
            .values(totp_last_step=step).execution_options(synchronize_session=False)).rowcount
        if taken:
            user.totp_last_step = step
            return True
    return False


def confirm_enrolment(user: User, secret: str, code: str) -> list[str] | None:
    """Put ``secret`` in use if ``code`` came from it; returns the new recovery codes (shown once), or None."""
    if enrolled(user) or not _accept_code(user, code, secret):
        return None
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    codes = _new_recovery_codes(user)
    record_change("user.second_factor_enabled", "user", user.id, actor=user)
    return codes


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash(codes[-1])))
    db.session.flush()
    return codes


def new_recovery_codes(user: User) -> list[str]:
    """Replace the recovery codes (the old ones stop working); shown once."""
    codes = _new_recovery_codes(user)
    record_change("user.recovery_codes_replaced", "user", user.id, actor=user)
    return codes


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(db.select(db.func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def verify(user: User, code: str, *, recovery: bool = True) -> bool:
    """A fresh code from the app, or (``recovery``) an unused recovery code, which is then spent."""
    if not enrolled(user):
        return False
    if _accept_code(user, code):
        return True
    if not recovery:
        return False
    spent = db.session.execute(
        db.update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash(code),
                                      RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if spent:
        record_change("user.recovery_code_used", "user", user.id, actor=user,
                      after={"left": recovery_codes_left(user)})
    return bool(spent)


def clear(user: User, *, actor: User) -> None:
    """Forget the second factor (a lost phone): the person enrols again at their next sign-in, and
    their open sessions end."""
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    user.session_version += 1
    db.session.execute(db.update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
                       .values(revoked_at=utcnow(), revoked_reason="second_factor")
                       .execution_options(synchronize_session=False))
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()
    record_change("user.second_factor_cleared", "user", user.id, actor=actor)
