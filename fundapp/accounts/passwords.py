"""Passwords: argon2id hashes, and what a new password must not be (short, common, the person's own email or name)."""
from __future__ import annotations

from argon2 import PasswordHasher
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _

from fundapp.accounts.errors import AccountError, WeakPassword

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


# --- passwords ------------------------------------------------------------------


def password_hasher() -> PasswordHasher:
    return PasswordHasher(**current_app.config["PASSWORD_HASH"])


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


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


def check_new_password(password: str, email: str, name: str) -> None:
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
