"""What Stripe says now of the disputes and payouts the books hold, for the treasurer's pages: read-only, and
quick to give up (no retries, a short timeout), so a slow or absent Stripe costs a page one wait and the page
shows the books' figures alone (``donations.stripe_books``). The money is always the books'."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import current_app

from fundapp.payments.facts import DisputeState, PayoutLine, PayoutState
from fundapp.payments.gateway import API_VERSION, _day, _stripe_errors, local_mode, payout_lines

if TYPE_CHECKING:
    import stripe

#: Seconds a page waits for Stripe before it shows the books' figures alone (the webhooks' calls wait longer).
PAGE_TIMEOUT_SECONDS = 5


def _page_client() -> stripe.StripeClient:
    """``client()`` for a page: no retries and a short timeout, so a slow or absent Stripe costs one wait."""
    import stripe

    config = current_app.config
    return stripe.StripeClient(config["STRIPE_SECRET_KEY"], stripe_version=API_VERSION,
                               base_addresses={"api": config["STRIPE_API_BASE"]} if local_mode(config) else None,
                               max_network_retries=0,
                               http_client=stripe.new_default_http_client(timeout=PAGE_TIMEOUT_SECONDS))


@_stripe_errors
def dispute_states(dispute_ids: list[str]) -> dict[str, DisputeState]:
    """Each dispute's state as Stripe has it now, by id; the first failure (GatewayError) stops them all, so an
    unreachable Stripe costs one timeout, not one per dispute."""
    api = _page_client().v1
    found = {}
    for dispute_id in dispute_ids:
        dispute = api.disputes.retrieve(dispute_id)
        due_by = dispute.evidence_details.due_by
        found[dispute.id] = DisputeState(
            dispute_id=dispute.id, status=str(dispute.status), reason=str(dispute.reason),
            evidence_due_at=datetime.fromtimestamp(due_by, UTC) if due_by else None)
    return found


@_stripe_errors
def payout_states(payout_ids: list[str]) -> dict[str, PayoutState]:
    """Each payout's state and what it carried, by id; the first failure (GatewayError) stops them all."""
    api = _page_client().v1
    found = {}
    for payout_id in payout_ids:
        payout = api.payouts.retrieve(payout_id)
        lines: tuple[PayoutLine, ...] | None = None
        if payout.automatic:
            lines = payout_lines(payout.id, api)
        found[payout.id] = PayoutState(payout_id=payout.id, status=str(payout.status),
                                       arrival_day=_day(payout.arrival_date or payout.created),
                                       failure_message=payout.failure_message or "", lines=lines)
    return found
