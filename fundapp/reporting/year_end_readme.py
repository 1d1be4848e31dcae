"""The year-end pack's README.txt: what each file is, where its figures go on Form 990 and its schedules, and what
the accountant should check; in plain words for the treasurer who hands the folder over."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from fundapp.funds.models import Fund
from reports.style import amount_text

if TYPE_CHECKING:
    from fundapp.reporting.year_end import Gifts, Grants

UNLINKED = "(not linked to a grant)"


def span_label(start: date, end: date) -> str:
    if (start.month, start.day, end.month, end.day) == (1, 1, 12, 31) and start.year == end.year:
        return f"calendar year {start.year}"
    return f"fiscal year {start.isoformat()} to {end.isoformat()}"


def readme(fund: Fund, start: date, end: date, grants: Grants, gifts: Gifts, generated_at: datetime) -> str:
    money = lambda cents: f"{amount_text(cents)} {fund.currency}"  # noqa: E731
    missing = [d.name for d in gifts.large if not d.address]
    lines = [
        f"{fund.legal_name or fund.name} (EIN {fund.ein}): year-end pack for the {span_label(start, end)}",
        f"Made by fundapp on {generated_at:%Y-%m-%d %H:%M} UTC from the fund's books.",
        "",
        "The year is the fund's fiscal year (its settings: the month it starts), named by the calendar year",
        "it begins in, as the IRS names a Form 990's tax year. Amounts are in " + fund.currency + ".",
        "Gifts enter the books when the money settles; grants when the trustees approve them (the expense),",
        "and the payment later clears what is owed (Liabilities:GrantsPayable).",
        "",
        "FILES AND WHAT THEY SERVE",
        "",
        "statement-of-activities.pdf",
        "  Revenue, expenses and the change in net assets for the year. Form 990 Part VIII (revenue:",
        "  gifts are line 1 contributions), Part IX (expenses: Expenses:HardshipGrants is line 2, grants",
        "  and other assistance to domestic individuals; card fees are fees for services), Part I lines",
        "  8-19, and Part XI (reconciliation of net assets).",
        "balance-sheet.pdf",
        "  The statement of financial position at the year's last day. Form 990 Part X: the Stripe balance,",
        "  bank and undeposited cheques are cash (line 1); grants approved but unpaid are grants payable",
        "  (line 17); net assets lines 27-28 and Part I lines 20-22.",
        "trial-balance.pdf, trial-balance.csv",
        "  Every account's balance at the year's last day; debits equal credits. The accountant's starting",
        "  point, to map our accounts to the return's lines.",
        "grants-register.pdf, grants-register.csv",
        "  Every grant approved in the year: date, recipient, address, amount, purpose and who decided.",
        "  The records IRS Publication 3833 asks a fund that helps individuals in need to keep.",
        "grants-to-individuals-by-type.pdf, grants-to-individuals-by-type.csv",
        "  Form 990 Schedule I, Part III (grants and other assistance to domestic individuals): per type",
        "  of assistance (rent, utilities, medicine, childcare ...), the number of recipients and the",
        "  amount of cash grant; there is no non-cash assistance. The total is Part IX line 2, column A.",
        f"  Total granted in the year: {money(grants.expense_cents)}.",
        "donors-5000-or-more.csv",
        "  Form 990 Schedule B, Part I (general rule): each donor whose gifts in the year came to $5,000",
        "  or more, with name, address and total; all are cash gifts from a person. A 501(c)(3) lists",
        "  names and addresses on the Schedule B it files; other 501(c) organisations (a 501(c)(5) union)",
        "  report the amounts and keep the names and addresses in their records for the IRS. Either way,",
        "  Schedule B is not open to public inspection as filed: never publish this file.",
        f"  Donors listed: {len(gifts.large)}.",
        "grants-per-recipient.csv",
        "  Each member's grants in the year: the amount approved and the amount paid (voids deducted).",
        "  Backs Schedule I Part III's counts, and lets the accountant check grants to anyone related to",
        "  an officer, trustee or large donor (Schedule L) and any recipient helped unusually often.",
        "",
        "LEFT FOR THE ACCOUNTANT",
        "",
        "- Which return: Form 990, 990-EZ or the 990-N e-postcard (by gross receipts and assets), or",
        "  whether the fund is reported on the union's own return (and its LM report) rather than alone.",
        "- Schedule B: for a 501(c)(3) that meets the 33 1/3% public support test, the special rule (2% of",
        "  contributions instead of $5,000); deciding which donors are 'persons' for the schedule.",
        "- Schedule I Part I: the fund's grant criteria and how it monitors use (the rules page and",
        "  Publication 3833 records describe them), and Part IV line 22 (grants over $5,000 in all).",
        "- Net assets with or without donor restrictions (gifts given for hardship grants may be restricted).",
        "- Functional expenses (Part IX columns B to D), governance (Part VI), Schedule O, and state filings.",
        "- Reconciling with the bank statements, and any payable or receivable not in these books.",
    ]
    if gifts.unattributed_gifts:
        lines += ["", f"NOTE: Gifts in the year with no donor email: {gifts.unattributed_gifts}, totalling "
                      f"{money(gifts.unattributed_cents)}.", "They are not attributed to any donor (cash, or a "
                      "charge without an email): check the cheque", "and cash slips for anyone who gave $5,000 or "
                      "more."]
    if missing:
        lines += ["", "NOTE: no postal address on file for: " + "; ".join(missing) + ".",
                  "Schedule B needs it: ask these donors, then record it with their next gift."]
    if grants.unlinked_cents:
        lines += ["", f"NOTE: {money(grants.unlinked_cents)} of grants expense in the year was booked by entries "
                      "that are not a grant's approval", "(a manual entry): it is in the totals as "
                      f"\"{UNLINKED}\"; find out what it was."]
    if end >= datetime.now(UTC).date():
        lines += ["", "NOTE: the year has not ended yet: these figures are provisional."]
    return "\n".join(lines) + "\n"
