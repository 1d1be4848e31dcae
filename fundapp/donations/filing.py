"""Which fund a Stripe event's facts belong to, on an installation hosting several funds.

The host model: the union's one Stripe account receives every fund's gifts and sends one webhook. fundapp names
the fund in the metadata of each Checkout Session, PaymentIntent and subscription it starts
(``giving.checkout_metadata``), so the worker files each fact under its fund:

1. a fund chosen by the host for an event on the "to be assigned" list (``assign_event``) stands;
2. else the fund the facts name: our gift's token, or the charge or subscription of a gift we booked (our own
   rows), or the ``fund`` the metadata carries;
3. else, on an installation of one fund, that fund (every charge of its account is its own, as before);
4. else a payment that names no fund (made outside fundapp: the Stripe dashboard, a Payment Link) is put on the
   host's "to be assigned" list (``UNASSIGNED``), never into a fund; any other fact (a refund of a charge not
   booked yet) stays with the fund whose webhook address received it, where it waits as before.

Stripe Connect (one connected account per fund, for independent locals) would replace step 2 with the event's
``account``: ``fund_for_account`` is that seam, unused while the host's own account takes every gift.
"""
from __future__ import annotations

from collections.abc import Iterable

from fundapp.donations.models import Donation, MonthlyGift, StripeEvent
from fundapp.extensions import db, utcnow
from fundapp.funds.models import Fund
from fundapp.money import money_text
from fundapp.payments.facts import ChargeHistory, Fact, PaymentSettled

#: The outcome of an event whose payment names no fund, on an installation of several: the host assigns it.
UNASSIGNED = "unassigned"
#: The outcome an assigned event waits with until the worker books it in the fund the host chose.
ASSIGNED = "assigned"


class FundIds:
    """The funds this installation holds, read once per batch of events (one query)."""

    def __init__(self) -> None:
        self.ids = frozenset(db.session.scalars(db.select(Fund.id)))

    @property
    def several(self) -> bool:
        return len(self.ids) > 1


def fund_for_event(facts: Iterable[Fact], *, stored_fund_id: int | None, assigned: bool,
                   funds: FundIds) -> int | str | None:
    """The id of the fund to book ``facts`` in, ``UNASSIGNED``, or None (no fund: not booked)."""
    if assigned or not funds.several:
        return stored_fund_id
    facts = list(facts)
    for fact in facts:
        named = _named_fund(fact, funds)
        if named is not None:
            return named
    if any(isinstance(fact, (PaymentSettled, ChargeHistory)) for fact in facts):
        return UNASSIGNED
    return stored_fund_id


def _named_fund(fact: Fact, funds: FundIds) -> int | None:
    if isinstance(fact, ChargeHistory):
        fact = fact.payment
    token = getattr(fact, "donation_token", None)
    if token:
        found = db.session.scalar(db.select(Donation.fund_id).where(Donation.token == token))
        if found is not None:
            return found
    charge_id = getattr(fact, "charge_id", None)
    if charge_id:
        found = db.session.scalar(db.select(Donation.fund_id).where(Donation.stripe_charge_id == charge_id))
        if found is not None:
            return found
    subscription_id = getattr(fact, "subscription_id", None)
    if subscription_id:
        found = db.session.scalar(db.select(MonthlyGift.fund_id).where(
            MonthlyGift.stripe_subscription_id == subscription_id))
        if found is not None:
            return found
    metadata = getattr(fact, "metadata", None) or {}
    named = metadata.get("fund", "")
    if named.isdigit() and int(named) in funds.ids:
        return int(named)
    return None


def fund_for_account(account_id: str | None) -> int | None:
    """Stripe Connect's seam: the fund a connected account belongs to. The host model has no connected
    accounts, so none does; a Connect installation would keep each fund's account id on its row and look it up
    here, in place of the metadata."""
    return None


def unassigned_events(limit: int = 100) -> list[StripeEvent]:
    """The payments that named no fund, newest first, for the host to assign."""
    return list(db.session.scalars(db.select(StripeEvent).where(StripeEvent.outcome == UNASSIGNED)
                                   .order_by(StripeEvent.received_at.desc()).limit(limit)))


def assign_event(event: StripeEvent, fund: Fund, *, actor) -> None:
    """The host files a payment that named no fund under ``fund`` (flushes): the worker books it there on its next
    round, as if its metadata had named the fund. One audit record, in that fund's trail."""
    from fundapp.audit.services import record_change

    if event.outcome != UNASSIGNED:
        raise ValueError("Only an event on the to-be-assigned list can be assigned.")
    event.fund_id = fund.id
    event.outcome = ASSIGNED
    event.processed_at = None
    event.next_attempt_at = None
    event.attempts = 0
    event.last_error = None
    db.session.flush()
    record_change("stripe_event.assign", "stripe_event", event.id, actor=actor, fund_id=fund.id,
                  after={"type": event.type, "fund": fund.slug})


def mark_unassigned(events: list[tuple[str, list[Fact]]]) -> None:
    """Take events whose payment named no fund (id, facts) off the queue, onto the host's list, each with what
    the host needs to recognise it (flushes)."""
    for event_id, facts in events:
        db.session.execute(db.update(StripeEvent).where(StripeEvent.id == event_id).values(
            processed_at=utcnow(), outcome=UNASSIGNED, last_error=None, summary=_summary(facts))
            .execution_options(synchronize_session=False))


def _summary(facts: list[Fact]) -> str:
    """The payment's amount and payer: "$77.00 · Walk In <walk.in@example.org> · ch_123"."""
    for fact in facts:
        payment = fact.payment if isinstance(fact, ChargeHistory) else fact
        if isinstance(payment, PaymentSettled):
            payer = " ".join(part for part in (payment.name, f"<{payment.email}>" if payment.email else "") if part)
            return " · ".join(part for part in (money_text(payment.gross_cents, payment.currency), payer,
                                                payment.description, payment.charge_id) if part)[:300]
    return ""
