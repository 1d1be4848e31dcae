"""The union's roster and membership proof: a roster import is all or nothing and an entry links to at most
one account; a member is proved by number, last name and, when the roster carries it, the last 4 digits of
their phone; every failed proof gets one message; proving an entry already linked alerts the treasurer, who
decides (never moved by itself)."""
from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
import unicodedata
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask_babel import force_locale
from flask_babel import gettext as _

from fundapp.accounts.errors import AccountError, LinkRefused
from fundapp.accounts.models import ClaimOutcome, Member, MembershipClaim, Role, RoleGrant, User
from fundapp.audit.services import record_change
from fundapp.extensions import db, utcnow
from fundapp.funds.models import Fund
from fundapp.mail import public_link, queue_mail

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
                url=public_link("admin.roster", fund=fund)), fund_id=fund.id)
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
