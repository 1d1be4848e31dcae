"""``fund init``: the one step that creates the fund, its first rules and its chart of accounts.

Reads stay reads: ``current_fund``, ``current_rules`` and ``ledger.chart`` only look these up and raise
``FundNotInitialised`` when they are missing, so no page (and no GET) ever writes them. This module sits
above ``funds``, ``applications`` and ``ledger`` because it sets up all three.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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
