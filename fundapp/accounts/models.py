"""Users, their roles per fund, and the union's membership roster.

Invariants:
- ``users.email`` is stored lower-cased and is unique, so emails are unique
  whatever their case.
- A user holds roles per fund (``role_grants``); an installation may host several funds.
- A roster entry (``members``) links to at most one account, and an account to at
  most one roster entry per fund.
- A claim on a roster entry that is already linked (``membership_claims``) never moves the
  link by itself: it waits for the treasurer, who keeps the link or gives it to the claimant.
- A registration waits (``pending_registrations``) until its address is proven by the link
  mailed to it; only the token's hash is kept.
- A signed-in browser holds a session id whose hash is a ``user_sessions`` row; the server ends a session by
  stamping ``revoked_at`` (sign-out, a new password, a change of trustee or treasurer role, "sign out
  everywhere", idling too long), and a copy of the cookie is worth nothing from then on.
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fundapp.extensions import UTCDateTime, db, utcnow


class Role(enum.StrEnum):
    DONOR = "donor"
    APPLICANT = "applicant"
    TRUSTEE = "trustee"
    TREASURER = "treasurer"


class Language(enum.StrEnum):
    EN = "en"
    ES = "es"


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint("email = lower(email)", name="email_lower_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    #: argon2id hash in PHC string format.
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    language: Mapped[str] = mapped_column(sa.String(2), default=Language.EN.value)
    active: Mapped[bool] = mapped_column(default=True)
    #: One of the host union's administrators: opens funds (``/host/``) and sees what belongs to no fund.
    is_operator: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: Changed with the password (and deactivation, a cleared second factor): part of reset links and of the
    #: wait for the second factor, so a new password makes them worthless. Sessions end in ``user_sessions``.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The second factor (two_factor.py): a TOTP secret (base32), in use once ``totp_enabled_at`` is set;
    #: ``totp_last_step`` is the last 30-second step whose code was accepted (a code works once).
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sign-in for inactive users
        return self.active

    #: The id of the session being started (set by ``services.start_session``, never stored): what
    #: Flask-Login keeps in the session cookie and the remember-me cookie.
    session_token = None

    def get_id(self) -> str | None:
        return self.session_token

    def roles_in(self, fund_id: int) -> frozenset[Role]:
        return frozenset(Role(g.role) for g in self.grants if g.fund_id == fund_id)


class RecoveryCode(db.Model):
    """A one-time code that stands in for the authenticator app (a lost phone); only its hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RoleGrant(db.Model):
    __tablename__ = "role_grants"
    __table_args__ = (sa.UniqueConstraint("user_id", "fund_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    role: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="grants")


class Member(db.Model):
    """One person on the union's roster, as the treasurer imported it."""

    __tablename__ = "members"
    __table_args__ = (
        sa.UniqueConstraint("fund_id", "member_id"),
        sa.UniqueConstraint("fund_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"), index=True)
    #: The union's own member number, as printed on the roster.
    member_id: Mapped[str] = mapped_column(sa.String(40))
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    worksite: Mapped[str] = mapped_column(sa.String(200))
    unit: Mapped[str] = mapped_column(sa.String(100))
    on_strike: Mapped[bool]
    #: The last 4 digits of the member's phone on the roster (optional column ``phone``): a fact a stranger
    #: holding a member number and a surname does not have; when set, linking needs it.
    phone_last4: Mapped[str | None] = mapped_column(sa.String(4))
    #: The account that proved it is this member; at most one.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User | None] = relationship()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ClaimOutcome(enum.StrEnum):
    KEPT = "kept"
    MOVED = "moved"


class MembershipClaim(db.Model):
    """Someone proved the details of a roster entry already linked to another account: the treasurer decides."""

    __tablename__ = "membership_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"), index=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"))
    #: The account that made the claim, and the one the entry was linked to at the time.
    claimant_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    holder_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: ClaimOutcome once resolved.
    outcome: Mapped[str | None] = mapped_column(sa.String(10))

    member: Mapped[Member] = relationship()
    claimant: Mapped[User] = relationship(foreign_keys=[claimant_id])
    holder: Mapped[User | None] = relationship(foreign_keys=[holder_id])


class PendingRegistration(db.Model):
    """A sign-up waiting for its address to be confirmed by the mailed link (``token_sha256``)."""

    __tablename__ = "pending_registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    language: Mapped[str] = mapped_column(sa.String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class UserSession(db.Model):
    """One signed-in browser: a user's, or a donor's who followed an emailed link (donors have no account).
    Only the hash of its id is kept, so the table cannot be used to sign in."""

    __tablename__ = "user_sessions"
    __table_args__ = (sa.CheckConstraint("(user_id IS NULL) <> (donor_id IS NULL)", name="one_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of the random id in the browser's cookie (hex).
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    donor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("donors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Updated at most once a minute, so a session in use costs no write per request.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The address and a short description of the browser at sign-in, for the person's own list.
    ip: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(120), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why it ended: "logout", "password", "roles", "everywhere", "idle", "deactivated", "second_factor".
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(20))

    user: Mapped[User | None] = relationship()
