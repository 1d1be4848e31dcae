"""The audit trail in words: what each action was, what changed, money as money, for people reading the page.

The records keep their raw before/after (what the chain seals); this module only reads them. Actions of the
domains above the floor are named here by their text alone, so the audit package imports none of them.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from fundapp.money import format_cents

ACTION_NAMES = {
    "application.approval": _l("approved an application"),
    "application.draft": _l("started an application"),
    "application.instalment": _l("paid an instalment of a grant"),
    "application.personal_data_removed": _l("removed an application's personal data (retention)"),
    "application.recusal": _l("was stopped from deciding a case (recusal)"),
    "audit.anchor": _l("anchored the audit trail outside the database"),
    "bank.csv_format": _l("chose the bank statement's CSV columns"),
    "bank.import": _l("imported a bank statement"),
    "bank.match": _l("matched a bank statement line"),
    "bank.unmatch": _l("undid a bank statement match"),
    "case.note_added": _l("added a note to a case"),
    "case.reviewer_assigned": _l("took on a case as reviewer"),
    "deposit.create": _l("recorded a bank deposit"),
    "document.upload": _l("uploaded a document"),
    "document.view": _l("opened a document"),
    "fund.open": _l("opened the fund"),
    "fund.status": _l("opened, paused or closed the fund"),
    "stripe_event.assign": _l("filed a payment that named no fund under this fund"),
    "donation.abandoned": _l("closed a gift left at the checkout"),
    "donation.dispute_lost": _l("recorded a card dispute lost"),
    "donation.dispute_withdrawn": _l("booked the money a card dispute took"),
    "donation.dispute_reinstated": _l("booked the money a won card dispute gave back"),
    "donation.failed": _l("recorded a declined payment"),
    "donation.offline": _l("recorded a cheque or cash gift"),
    "donation.processing": _l("recorded a bank payment on its way"),
    "donation.receipt_released": _l("mailed a receipt that was held"),
    "donation.refund_requested": _l("refunded a gift through Stripe"),
    "donation.refunded": _l("booked a refund"),
    "donation.settled": _l("booked a gift"),
    "donation.start": _l("started a gift"),
    "donation.wall": _l("changed a gift's place on the donor wall"),
    "donor.address": _l("recorded a donor's address"),
    "fund.update": _l("changed the fund's settings"),
    "ledger.account_mapping": _l("changed the accounting export's account names"),
    "ledger.close_month": _l("closed a month"),
    "ledger.post": _l("posted a journal entry"),
    "ledger.reopen_month": _l("reopened a month"),
    "member.claim": _l("claimed a membership already linked"),
    "member.claim_resolved": _l("resolved a membership claim"),
    "member.link": _l("confirmed a membership"),
    "monthly_gift.end": _l("stopped a monthly gift"),
    "monthly_gift.payment_failed": _l("recorded a failed monthly payment"),
    "payment.step_up_failed": _l("gave a wrong authenticator code for a payment"),
    "payment.void": _l("voided a payment"),
    "roster.import": _l("imported the membership roster"),
    "rules.update": _l("changed the fund's rules"),
    "trustee.relationship": _l("declared a relationship with a member"),
    "user.create": _l("added a person"),
    "user.data_downloaded": _l("downloaded their own data"),
    "user.password_change": _l("changed their password"),
    "user.password_reset_requested": _l("asked for a password reset"),
    "user.recovery_code_used": _l("used a recovery code"),
    "user.recovery_codes_replaced": _l("made new recovery codes"),
    "user.register": _l("created an account"),
    "user.second_factor_cleared": _l("cleared a second factor"),
    "user.second_factor_enabled": _l("set up a second factor"),
    "user.set_active": _l("changed whether a person can sign in"),
    "transfer.approve": _l("approved a transfer between funds"),
    "transfer.book": _l("booked a transfer between funds"),
    "transfer.propose": _l("proposed a transfer between funds"),
    "transfer.withdraw": _l("withdrew a transfer between funds"),
    "user.set_roles": _l("changed a person's roles"),
    "user.set_operator": _l("changed whether a person is an operator"),
    "user.update_profile": _l("changed a profile"),
}

OBJECT_NAMES = {
    "application": _l("application"), "donation": _l("gift"), "fund": _l("the fund"), "fund_rules": _l("rules version"),
    "journal_entry": _l("journal entry"), "period": _l("month"), "user": _l("person"), "member": _l("member"),
    "payment": _l("payment"), "document": _l("document"), "deposit": _l("deposit"), "monthly_gift": _l("monthly gift"),
    "bank_line": _l("bank line"), "bank_import": _l("bank statement"), "donor": _l("donor"), "roster": _l("roster"),
    "audit": _l("audit trail"), "claim": _l("claim"), "stripe_event": _l("Stripe notice"),
    "fund_transfer": _l("transfer between funds"),
}

FIELD_NAMES = {
    "weekly_cap_cents": _l("weekly cap"), "strike_cap_cents": _l("cap for the strike"),
    "category_cap_cents": _l("cap per kind of need"), "dual_approval_above_cents": _l("second trustee above"),
    "approvals_needed": _l("approvals needed"), "reserve_cents": _l("reserve"), "categories": _l("kinds of need"),
    "one_open_application": _l("one application at a time"), "goal_cents": _l("goal"), "amount_cents": _l("amount"),
    "status": _l("status"), "roles": _l("roles"), "active": _l("can sign in"), "name": _l("name"),
    "legal_name": _l("legal name"), "ein": _l("EIN"), "legal_form": _l("legal form"), "contact_email": _l("contact"),
    "postal_address": _l("postal address"), "time_zone": _l("time zone"), "reason": _l("reason"),
    "fiscal_year_start_month": _l("first month of the fiscal year"), "signatory_name": _l("receipt signatory"),
    "signatory_title": _l("signatory's title"), "note": _l("note"), "criteria": _l("criteria"),
    "wall": _l("donor wall"), "method": _l("method"), "reference": _l("reference"), "memo": _l("memo"),
}

#: Keys that are for machines (the chain, the books' snapshot): shown only under the technical detail.
TECHNICAL = {"snapshot", "request_id", "hash", "checkout_session", "refund", "posting_ids", "lines_sha256"}


@dataclass(frozen=True)
class Change:
    label: str
    before: object
    after: object
    #: "money" (integer cents), "status" (an application status), or "text".
    kind: str


def action_name(action: str) -> str:
    if action in ACTION_NAMES:
        return str(ACTION_NAMES[action])
    if action.startswith("application."):
        return str(_l("moved an application on"))
    return action


def object_name(object_type: str) -> str:
    return str(OBJECT_NAMES.get(object_type, object_type.replace("_", " ")))


def _label(key: str) -> str:
    if key in FIELD_NAMES:
        return str(FIELD_NAMES[key])
    return key.removesuffix("_cents").replace("_", " ")


def _text(value) -> object:
    if isinstance(value, bool):
        return str(_l("yes")) if value else str(_l("no"))
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], int) for item in value):
        # a journal entry's postings: (account, signed cents)
        return ", ".join(f"{account} {format_cents(cents)}" for account, cents in value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return value


def changes(before: dict | None, after: dict | None) -> list[Change]:
    """The fields that changed (or were set), each once, money as cents for the page to format."""
    before, after = before or {}, after or {}
    found = []
    for key in dict.fromkeys([*before, *after]):
        if key in TECHNICAL or isinstance(before.get(key), dict) or isinstance(after.get(key), dict):
            continue
        old, new = before.get(key), after.get(key)
        if key in before and key in after and old == new:
            continue  # unchanged: not worth a line
        kind = "money" if key.endswith("_cents") and all(isinstance(v, int) or v is None for v in (old, new)) \
            else "status" if key == "status" else "text"
        found.append(Change(_label(key), old if kind != "text" else _text(old), new if kind != "text" else _text(new),
                            kind))
    return found
