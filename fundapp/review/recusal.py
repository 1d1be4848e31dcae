"""Recusal: a trustee never decides their own application, nor one of a member they declared a relationship
with; a refused attempt is recorded on the audit trail."""
from __future__ import annotations

from flask_babel import gettext as _

from fundapp.accounts.models import Member, User
from fundapp.applications.models import Application
from fundapp.audit.services import record_change
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.review.errors import Recused, ReviewError
from fundapp.review.models import Relationship


def related_member_ids(actor: User) -> set[int]:
    """The members this trustee declared a relationship with (they recuse on those members' cases)."""
    return set(db.session.scalars(db.select(Relationship.member_id).filter_by(trustee_id=actor.id)))


def recusal(application: Application, actor: User) -> tuple[str, str] | None:
    """Why ``actor`` may not decide this case: ("own application", "") or ("declared relationship", the
    relation); None when they may. Reads only, so a page can say it before anyone clicks."""
    if application.applicant_id == actor.id:
        return "own application", ""
    related = db.session.scalar(db.select(Relationship).filter_by(trustee_id=actor.id,
                                                                  member_id=application.member_id))
    return ("declared relationship", related.relation) if related is not None else None


def recusal_message(reason: tuple[str, str]) -> str:
    if reason[0] == "own application":
        return _("You cannot act on your own application; another trustee must.")
    return _("You declared a relationship with this member (%(relation)s), so another trustee must decide.",
             relation=reason[1])


def refuse_if_recused(application: Application, actor: User) -> None:
    """Recusal: not on one's own application, nor on a member one declared a relationship with (recorded)."""
    reason = recusal(application, actor)
    if reason is None:
        return
    after = {"reason": reason[0]} | ({"relation": reason[1]} if reason[1] else {})
    record_change("application.recusal", "application", application.id, actor=actor,
                  fund_id=application.fund_id, after=after)
    db.session.flush()
    raise Recused(recusal_message(reason))


def declare_relationship(fund: Fund, trustee: User, member_number: str, relation: str) -> Relationship:
    """A trustee declares a relationship with a member; from then on they recuse on that member's cases."""
    member = db.session.scalar(db.select(Member).where(
        Member.fund_id == fund.id, db.func.upper(Member.member_id) == member_number.strip().upper()))
    if member is None:
        raise ReviewError(_("There is no member with that number on the roster."), "member_id")
    if not relation.strip():
        raise ReviewError(_("Say what the relationship is (for example: my sister, same household)."), "relation")
    existing = db.session.scalar(db.select(Relationship).filter_by(trustee_id=trustee.id, member_id=member.id))
    if existing is not None:
        return existing
    declared = Relationship(fund_id=fund.id, trustee_id=trustee.id, member_id=member.id,
                            relation=relation.strip()[:200])
    db.session.add(declared)
    db.session.flush()
    record_change("trustee.relationship", "member", member.id, actor=trustee, fund_id=fund.id,
                  after={"relation": declared.relation})
    return declared
