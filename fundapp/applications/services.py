"""Applying for a grant: who may, the fund's rules and caps, drafts, documents, submitting, withdrawing.

Rules are versioned: ``update_rules`` adds a version, never edits one, and an
application keeps the version in force when it was submitted. Caps count what
a member has been granted (the approved amount) and what is still being
decided (the requested amount); drafts count for nothing. Functions flush;
the caller commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask_babel import force_locale
from flask_babel import gettext as _

from fundapp.accounts.membership import member_of
from fundapp.accounts.models import Member, User
from fundapp.applications.models import DEFAULT_CATEGORIES, Application, ApplicationMessage, FundRules, PayeeKind
from fundapp.applications.states import GRANTED, PENDING, Status, transition
from fundapp.audit.services import record_change
from fundapp.extensions import db, utcnow
from fundapp.funds.models import Fund, FundNotInitialised
from fundapp.mail import before_signature, public_link, queue_mail
from fundapp.money import money_text


class ApplicationError(ValueError):
    """Something the member must know or fix; ``field`` says where, when it is one input."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class NotEligible(ApplicationError):
    pass


class Incomplete(ApplicationError):
    def __init__(self, problems: dict[str, str]):
        super().__init__(_("Some answers are missing or need fixing."))
        self.problems = problems


# --- rules ---------------------------------------------------------------------------------------

DEFAULT_RULES = {"weekly_cap_cents": 300_00, "strike_cap_cents": 1_500_00, "category_cap_cents": 750_00,
                 "one_open_application": True, "dual_approval_above_cents": 500_00, "approvals_needed": 2}


def current_rules(fund: Fund) -> FundRules:
    """The rules in force: the newest version, read only (``fund init`` makes the first, see ``first_rules``)."""
    rules = db.session.scalar(db.select(FundRules).filter_by(fund_id=fund.id).order_by(FundRules.version.desc())
                              .limit(1))
    if rules is None:
        raise FundNotInitialised(f"The rules of the fund {fund.slug!r}")
    return rules


def first_rules(fund: Fund) -> FundRules | None:
    """Make version 1 of the rules, with sensible defaults, if the fund has none (flushes); None if it had.
    For ``fund init`` only: a request never writes the rules but through ``update_rules``."""
    if db.session.scalar(db.select(FundRules.id).filter_by(fund_id=fund.id).limit(1)) is not None:
        return None
    rules = FundRules(fund_id=fund.id, version=1, categories=list(DEFAULT_CATEGORIES),
                      reserve_cents=fund.reserve_cents, **DEFAULT_RULES)
    db.session.add(rules)
    db.session.flush()
    return rules


RULE_FIELDS = ("categories", "weekly_cap_cents", "strike_cap_cents", "category_cap_cents", "one_open_application",
               "dual_approval_above_cents", "approvals_needed", "reserve_cents")


def update_rules(fund: Fund, *, actor, **values) -> FundRules:
    """A new version of the rules (audited); applications already submitted keep theirs."""
    old = current_rules(fund)
    values = {field: values.get(field, getattr(old, field)) for field in RULE_FIELDS}
    if not values["categories"]:
        raise ApplicationError(_("Keep at least one category."), "categories")
    if not 1 <= values["approvals_needed"] <= 5:
        raise ApplicationError(_("Between 1 and 5 approvals."), "approvals_needed")
    new = FundRules(fund_id=fund.id, version=old.version + 1, created_by_id=getattr(actor, "id", None),
                    **values)
    db.session.add(new)
    fund.reserve_cents = new.reserve_cents
    db.session.flush()
    record_change("rules.update", "fund_rules", new.version, actor=actor, fund_id=fund.id,
                  before={field: getattr(old, field) for field in RULE_FIELDS},
                  after={field: getattr(new, field) for field in RULE_FIELDS})
    return new


# --- who may apply -------------------------------------------------------------------------------


def eligible_member(user: User, fund: Fund) -> Member:
    """The roster entry this user applies as; NotEligible says why not and what to do."""
    if fund.status != "open":
        raise NotEligible(_("The fund is not taking new applications: the strike is over. Applications already "
                            "sent are still decided and paid. For help, write to %(email)s.",
                            email=fund.contact_email))
    member = member_of(user, fund)
    if member is None:
        raise NotEligible(_("First confirm your union membership with your member number and last name."), "link")
    if not member.on_strike:
        raise NotEligible(_("The roster does not show you on strike, and grants are for striking members. If "
                            "that is wrong, write to %(email)s and the fund will check.", email=fund.contact_email))
    return member


# --- caps ----------------------------------------------------------------------------------------


def granted_cents(applications: list[Application]) -> int:
    """What these applications have been granted (approved, in part or in full, or paid)."""
    return sum(a.amount_approved_cents or 0 for a in applications if a.status in GRANTED)


def _counted_cents(application: Application) -> int:
    if application.status in GRANTED:
        return application.amount_approved_cents or 0
    if application.status in PENDING:
        return application.amount_requested_cents
    return 0


@dataclass(frozen=True)
class CapPosition:
    strike_left_cents: int
    week_left_cents: int
    category_left_cents: int | None  # None when no category is chosen yet

    @property
    def left_cents(self) -> int:
        lefts = [self.strike_left_cents, self.week_left_cents]
        if self.category_left_cents is not None:
            lefts.append(self.category_left_cents)
        return max(min(lefts), 0)


def cap_position(member: Member, rules: FundRules, category: str | None = None,
                 excluding: Application | None = None,
                 applications: list[Application] | None = None) -> CapPosition:
    """How much more this member may ask for under ``rules``: what the form shows and what submit enforces.

    ``applications`` (the member's, already loaded) spares the query when a page lists many members.
    """
    if applications is None:
        applications = list(db.session.scalars(db.select(Application).filter_by(member_id=member.id)))
    others = [a for a in applications if excluding is None or a.id != excluding.id]
    week_ago = utcnow() - timedelta(days=7)
    strike = sum(_counted_cents(a) for a in others)
    week = sum(_counted_cents(a) for a in others if a.submitted_at and a.submitted_at >= week_ago)
    in_category = sum(_counted_cents(a) for a in others if a.category == category) if category else None
    return CapPosition(rules.strike_cap_cents - strike, rules.weekly_cap_cents - week,
                       rules.category_cap_cents - in_category if category else None)


def check_caps(fund: Fund, application: Application, member: Member, rules: FundRules) -> None:
    """Refuse an amount above any cap, quoting the rule that binds."""
    position = cap_position(member, rules, application.category, excluding=application)
    asked = application.amount_requested_cents
    if asked > position.strike_left_cents:
        raise ApplicationError(_("You have %(left)s left of the %(cap)s cap for this strike.",
                                 left=money_text(max(position.strike_left_cents, 0), fund.currency),
                                 cap=money_text(rules.strike_cap_cents, fund.currency)), "amount")
    if asked > position.week_left_cents:
        raise ApplicationError(_("You have %(left)s left of the %(cap)s cap for any 7 days.",
                                 left=money_text(max(position.week_left_cents, 0), fund.currency),
                                 cap=money_text(rules.weekly_cap_cents, fund.currency)), "amount")
    if position.category_left_cents is not None and asked > position.category_left_cents:
        raise ApplicationError(_("You have %(left)s left of the %(cap)s cap for this kind of need.",
                                 left=money_text(max(position.category_left_cents, 0), fund.currency),
                                 cap=money_text(rules.category_cap_cents, fund.currency)), "amount")


def open_application(member: Member, excluding: Application | None = None) -> Application | None:
    """The member's application being decided (submitted, in review, or waiting for their answer)."""
    for application in db.session.scalars(db.select(Application).filter_by(member_id=member.id)
                                          .order_by(Application.id)):
        if application.status in PENDING and (excluding is None or application.id != excluding.id):
            return application
    return None


def refuse_second_open(fund: Fund, member: Member, rules: FundRules, excluding: Application | None = None) -> None:
    if rules.one_open_application and open_application(member, excluding) is not None:
        raise ApplicationError(_("The fund's rules allow one open application at a time, and yours is still "
                                 "being decided. You can add to it or withdraw it on your applications page."))


# --- drafts --------------------------------------------------------------------------------------


def current_draft(user: User, fund: Fund) -> Application | None:
    return db.session.scalar(db.select(Application).filter_by(fund_id=fund.id, applicant_id=user.id,
                                                              status=Status.DRAFT).order_by(Application.id.desc()))


def may_apply(user: User, fund: Fund) -> tuple[Member, Application | None]:
    """The member and their draft (None if they have none yet), reading only: what the empty form needs.
    Raises as ``start_or_resume`` would when they may not start one now."""
    member = eligible_member(user, fund)
    draft = current_draft(user, fund)
    if draft is None:
        refuse_second_open(fund, member, current_rules(fund))
    return member, draft


def start_or_resume(user: User, fund: Fund) -> Application:
    """The member's draft, or a new one if they may apply now."""
    member = eligible_member(user, fund)
    draft = current_draft(user, fund)
    if draft is not None:
        return draft
    rules = current_rules(fund)
    refuse_second_open(fund, member, rules)
    draft = Application(fund_id=fund.id, applicant_id=user.id, member_id=member.id, rules_id=rules.id,
                        status=Status.DRAFT, amount_requested_cents=0, amount_paid_cents=0)
    db.session.add(draft)
    db.session.flush()
    record_change("application.draft", "application", draft.id, actor=user, fund_id=fund.id)
    return draft


DRAFT_FIELDS = ("category", "amount_requested_cents", "household_size", "household_members", "address", "phone",
                "payee_kind", "payee_name", "payee_details", "need", "attested")


def save_draft(application: Application, *, actor, **answers) -> None:
    if application.status != Status.DRAFT:
        raise ApplicationError(_("This application was already submitted; it can no longer be edited."))
    for field in DRAFT_FIELDS:
        if field in answers:
            setattr(application, field, answers[field])
    db.session.flush()


def problems_of(application: Application, rules: FundRules) -> dict[str, str]:
    """What is missing before the application can be submitted, by field."""
    problems = {}
    if application.category not in rules.categories:
        problems["category"] = _("Choose what the help is for.")
    if application.amount_requested_cents <= 0:
        problems["amount"] = _("Enter the amount you need.")
    if not application.household_size or application.household_size < 1:
        problems["household_size"] = _("Enter how many people live in your household, you included.")
    if application.payee_kind != PayeeKind.MEMBER and not (application.payee_name.strip()
                                                          and application.payee_details.strip()):
        problems["payee_name"] = _("Enter who should be paid and how (for example the landlord's name and address).")
    if len(application.need.strip()) < 10:
        problems["need"] = _("Tell the trustees in a few words what the money is for.")
    if not application.attested:
        problems["attested"] = _("Please confirm that what you wrote is true.")
    return problems


def submit(application: Application, *, actor, fund: Fund) -> None:
    """Submit a complete draft under the rules in force now, after the eligibility and cap checks."""
    member = eligible_member(actor, fund)
    rules = current_rules(fund)
    problems = problems_of(application, rules)
    if problems:
        raise Incomplete(problems)
    refuse_second_open(fund, member, rules, excluding=application)
    check_caps(fund, application, member, rules)
    application.rules_id = rules.id
    application.submitted_at = utcnow().replace(microsecond=0)
    transition(application, Status.SUBMITTED, actor=actor, amount_cents=application.amount_requested_cents,
               rules_version=rules.version)
    db.session.flush()
    notify_member(fund, application, "submitted")


def withdraw(application: Application, *, actor, fund: Fund) -> None:
    transition(application, Status.WITHDRAWN, actor=actor)
    db.session.flush()
    notify_member(fund, application, "withdrawn")


def answer_question(application: Application, body: str, *, actor, fund: Fund) -> ApplicationMessage:
    """The member answers a trustee's question: the case goes back to review."""
    if application.status != Status.INFO_REQUESTED:
        raise ApplicationError(_("The trustees have not asked a question on this application."))
    if not body.strip():
        raise ApplicationError(_("Write your answer."), "body")
    message = ApplicationMessage(application_id=application.id, author_id=actor.id, kind="answer",
                                 body=body.strip()[:5000])
    db.session.add(message)
    transition(application, Status.IN_REVIEW, actor=actor, answered=True)
    db.session.flush()
    return message


# --- telling the member ----------------------------------------------------------------------------


def notify_member(fund: Fund, application: Application, event: str) -> None:
    """An email in the member's language for each change they should know about."""
    user = db.session.get(User, application.applicant_id)
    with force_locale(user.language):
        amount = money_text(application.amount_requested_cents, fund.currency)
        subjects = {
            "submitted": _("We received your application #%(id)s", id=application.id),
            "withdrawn": _("Your application #%(id)s is withdrawn", id=application.id),
        }
        bodies = {
            "submitted": _("Hello %(name)s,\n\nWe received your application for %(amount)s. The trustees look at "
                           "applications in the order they arrive; we will email you when they decide or if they "
                           "have a question. You can follow it on your applications page.\n\n%(fund)s",
                           name=user.name, amount=amount, fund=fund.name),
            "withdrawn": _("Hello %(name)s,\n\nYour application for %(amount)s is withdrawn, as you asked. You can "
                           "apply again when you need to.\n\n%(fund)s", name=user.name, amount=amount,
                           fund=fund.name),
        }
        link = _("Your application, any time: %(link)s",
                 link=public_link("applications.show", fund=fund, application_id=application.id))
        queue_mail(user.email, subjects[event], before_signature(bodies[event], link, fund.name), fund_id=fund.id)
