"""``fund init``: the one step that creates the fund, its first rules and its chart of accounts.

Reads stay reads: ``current_fund``, ``current_rules`` and ``ledger.chart`` only look these up and raise
``FundNotInitialised`` when they are missing, so no page (and no GET) ever writes them. This module sits
above ``funds``, ``applications`` and ``ledger`` because it sets up all three.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import force_locale
from flask_babel import gettext as _

from fundapp.accounts.models import User
from fundapp.applications.services import first_rules
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.funds.services import get_or_create_fund
from fundapp.ledger.services import open_chart


@dataclass
class InitDone:
    """What ``init_fund`` found and did, for the command to print."""

    fund: Fund
    created_fund: bool = False
    created_rules: bool = False
    opened_accounts: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.created_fund or self.created_rules or bool(self.opened_accounts)

    def lines(self) -> list[str]:
        fund = f"{self.fund.name} ({self.fund.slug})"
        if not self.changed:
            return [f"The fund {fund} is already set up; nothing to do."]
        done = [f"Created the fund {fund} from the settings." if self.created_fund else f"The fund {fund} exists."]
        if self.created_rules:
            done.append("Created version 1 of its grant rules (the defaults; the treasurer changes them at "
                        "/admin/rules).")
        if self.opened_accounts:
            done.append(f"Opened {len(self.opened_accounts)} accounts of its chart: "
                        f"{', '.join(self.opened_accounts)}.")
        return done


def init_fund(defaults: dict) -> InitDone:
    """Make the fund ``defaults['slug']`` (from ``defaults``), its first rules and its chart, each only if
    missing (flushes; the caller commits). Running it again changes nothing."""
    existed = db.session.scalar(db.select(Fund.id).filter_by(slug=defaults["slug"])) is not None
    fund = get_or_create_fund(defaults)
    db.session.flush()
    done = InitDone(fund=fund, created_fund=not existed)
    done.created_rules = first_rules(fund) is not None
    done.opened_accounts = open_chart(fund)
    return done


@dataclass
class FundOpened:
    """What ``open_fund`` did, for the command or the host page to say."""

    fund: Fund
    treasurer: User
    #: The treasurer had no account: one was made and a link to choose a password was mailed.
    new_account: bool


class OpenFundError(ValueError):
    """A fund that cannot be opened as asked; ``field`` names the input to show it on."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def open_fund(settings: dict, *, treasurer_email: str, treasurer_name: str, actor: User | None = None) -> FundOpened:
    """Open another fund on this installation (``fund open-fund``, the host's page): its settings (``settings``
    holds the slug, name, legal name, EIN, legal form, contact email and optionally currency, goal and time zone),
    first rules and chart of accounts (``init_fund``), and its first treasurer: someone with an account here is
    given the role and told; anyone else gets an account and a link to choose their password. Flushes; the
    caller commits. Raises OpenFundError for a slug taken or malformed, or a setting the fund cannot take."""
    from fundapp.accounts.models import Role, RoleGrant
    from fundapp.accounts.services import AccountError, create_user, find_user_by_email
    from fundapp.audit.services import record_change
    from fundapp.funds.mount import SLUG_PATTERN
    from fundapp.funds.services import FundSettingsError, validate_settings
    from fundapp.mail import public_link, queue_mail

    slug = (settings.get("slug") or "").strip()
    if not SLUG_PATTERN.fullmatch(slug):
        raise OpenFundError(_("The short name (for the fund's address) is lower-case letters, digits and hyphens, "
                              "up to 64."), "slug")
    if db.session.scalar(db.select(Fund.id).filter_by(slug=slug)) is not None:
        raise OpenFundError(_("A fund with the short name %(slug)s exists already.", slug=slug), "slug")
    values = {"slug": slug, "name": "", "legal_name": "", "ein": "", "legal_form": "501(c)(5)",
              "legal_form_wording": "", "contact_email": "", "currency": "USD", "goal_cents": 0, "reserve_cents": 0,
              "time_zone": "America/Los_Angeles", "fiscal_year_start_month": 1}
    values.update({key: value for key, value in settings.items() if value is not None})
    values = {key: value.strip() if isinstance(value, str) else value for key, value in values.items()}
    try:
        validate_settings(values)
    except FundSettingsError as exc:
        raise OpenFundError(str(exc), exc.field) from exc
    if "@" not in (treasurer_email or "") or not (treasurer_name or "").strip():
        raise OpenFundError(_("Name the fund's first treasurer and give their email address."), "treasurer_email")
    done = init_fund({key: values[key] for key in ("slug", "name", "legal_name", "ein", "legal_form",
                                                  "legal_form_wording", "currency", "goal_cents", "contact_email",
                                                  "time_zone", "fiscal_year_start_month")})
    fund = done.fund
    treasurer = find_user_by_email(treasurer_email)
    new_account = treasurer is None
    if treasurer is None:
        try:
            treasurer = create_user(fund, email=treasurer_email, name=treasurer_name.strip(), roles=[Role.TREASURER],
                                    actor=actor, set_password_url_for=lambda token: public_link(
                                        "accounts.reset_password", fund=fund, token=token))
        except AccountError as exc:
            raise OpenFundError(str(exc), "treasurer_email") from exc
    else:
        db.session.add(RoleGrant(user_id=treasurer.id, fund_id=fund.id, role=Role.TREASURER.value))
        db.session.flush()
        record_change("user.set_roles", "user", treasurer.id, actor=actor, fund_id=fund.id,
                      before={"roles": []}, after={"roles": [Role.TREASURER.value]})
        with force_locale(treasurer.language):
            subject = _("You are the treasurer of %(fund)s", fund=fund.name)
            body = _("Hello %(name)s,\n\n%(fund)s is now open on this installation, and you are its treasurer. "
                     "Sign in as usual and open it here:\n\n%(link)s\n\nIts settings, grant rules and trustees "
                     "are yours to set up first.", name=treasurer.name, fund=fund.name,
                     link=public_link("admin.index", fund=fund))
        queue_mail(treasurer.email, subject, body, language=treasurer.language, fund_id=fund.id)
    record_change("fund.open", "fund", fund.id, actor=actor, fund_id=fund.id,
                  after={"slug": fund.slug, "name": fund.name, "treasurer": treasurer.email})
    return FundOpened(fund=fund, treasurer=treasurer, new_account=new_account)


def set_fund_status(fund: Fund, status: str, *, successor: Fund | None = None, actor) -> bool:
    """Open the fund, pause its applications (the strike is over; grants already asked for are still decided and
    paid) or close it to gifts as well, naming where givers go instead (``successor``, another fund of the
    installation, or None for the list of those still open). Flushes; one audit record; False when nothing
    changed. Closing ends every monthly gift still running, at Stripe too (a Stripe that cannot be reached
    raises GatewayError, and the caller rolls back)."""
    from fundapp.audit.services import record_change
    from fundapp.donations.models import MonthlyGift
    from fundapp.donations.portal import end_monthly_gift
    from fundapp.funds.models import FundStatus
    from fundapp.funds.services import FundSettingsError

    status = str(status)
    if status not in set(FundStatus):
        raise FundSettingsError(_("Choose whether the fund is open, paused or closed."), "status")
    if successor is not None and (successor.id == fund.id or successor.status == FundStatus.CLOSED):
        raise FundSettingsError(_("Send givers to another fund that is still open."), "successor")
    successor_id = successor.id if status == FundStatus.CLOSED and successor is not None else None
    if status == fund.status and successor_id == fund.successor_id:
        return False
    if status == FundStatus.CLOSED:  # no donor is charged again for a closed fund
        for gift in db.session.scalars(db.select(MonthlyGift).where(MonthlyGift.fund_id == fund.id,
                                                                    MonthlyGift.ended_at.is_(None))).all():
            end_monthly_gift(fund, gift, by_donor=False, fund_closing=True)
    before = {"status": fund.status, "successor": fund.successor_id}
    fund.status, fund.successor_id = status, successor_id
    db.session.flush()
    record_change("fund.status", "fund", fund.id, actor=actor, fund_id=fund.id, before=before,
                  after={"status": status, "successor": successor_id})
    return True

