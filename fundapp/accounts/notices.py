"""Notices to the people who oversee the money: every active trustee and treasurer, of any fund.

The audit trail is one chain for the whole installation, so its anchors go to everyone who
answers for a fund on it. Each message is written in the reader's language and queued in the
caller's transaction (the command commits, then sends).
"""
from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

from fundapp.accounts.models import Role, RoleGrant, User
from fundapp.audit.services import Anchor
from fundapp.extensions import db
from fundapp.mail import queue_mail


def overseers() -> list[User]:
    """Active users with the trustee or treasurer role in any fund, each once."""
    overseeing = db.select(RoleGrant.user_id).where(RoleGrant.role.in_([Role.TRUSTEE.value, Role.TREASURER.value]))
    return list(db.session.scalars(db.select(User).where(User.active.is_(True), User.id.in_(overseeing))
                                   .order_by(User.id)))


def mail_audit_anchor(anchor: Anchor) -> int:
    """Queue the anchor's line to every overseer, to keep outside the database (flushes); returns how many."""
    people = overseers()
    line = anchor.line
    for user in people:
        with force_locale(user.language):
            queue_mail(user.email, _("Audit trail anchor of %(date)s: please keep this message",
                                     date=f"{anchor.at:%Y-%m-%d}"), _(
                "Hello %(name)s,\n\nThe line below records the fund's audit trail as it stood on %(when)s UTC: "
                "%(length)s records. Please keep this message. If anyone with access to the database later "
                "rewrites or deletes records, checking the trail against this line shows it (flask fund "
                "verify-audit --anchor).\n\n%(line)s\n",
                name=user.name, when=f"{anchor.at:%Y-%m-%d %H:%M}", length=anchor.length, line=line))
    return len(people)
