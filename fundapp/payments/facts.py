"""Money facts: what Stripe says happened to money, in plain values (integer cents, UTC moments, dates).

A moment (``at``) is given as Stripe gives it, in UTC: which of the fund's days it falls on is the fund's
clock's business (``fundapp.funds.clock``), not the gateway's."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class PaymentSettled:
    """A succeeded charge and its balance transaction: gross = fee + net."""

    charge_id: str
    payment_intent_id: str | None
    invoice_id: str | None
    subscription_id: str | None
    customer_id: str | None
    gross_cents: int
    fee_cents: int
    net_cents: int
    currency: str
    #: When the charge was made (UTC).
    at: datetime
    metadata: dict[str, str] = field(default_factory=dict)
    email: str = ""
    name: str = ""
    description: str = ""
    #: The payer's billing address when the payment carries one (Checkout asks for it on large gifts).
    address: PostalAddress | None = None


@dataclass(frozen=True)
class RefundSettled:
    refund_id: str
    charge_id: str
    amount_cents: int
    currency: str
    at: datetime  # UTC


@dataclass(frozen=True)
class DisputeMovement:
    """Money Stripe took for a dispute (amount < 0) or gave back (amount > 0), with any dispute fee."""

    balance_transaction_id: str
    dispute_id: str
    charge_id: str
    amount_cents: int
    fee_cents: int
    currency: str
    at: datetime  # UTC
    #: The dispute's status when fetched: "needs_response", "under_review", "won", "lost" ...
    status: str = ""


@dataclass(frozen=True)
class PayoutFact:
    payout_id: str
    amount_cents: int
    currency: str
    #: The arrival date: a bank day, which Stripe gives as midnight UTC of that date.
    day: date
    status: str  # "paid", "failed", "canceled", "pending", "in_transit"


@dataclass(frozen=True)
class InvoiceUnpaid:
    """A monthly gift's invoice Stripe could not collect: the donor can pay it (with another card) at
    ``pay_url``, Stripe's hosted invoice page."""

    invoice_id: str
    subscription_id: str | None
    amount_cents: int
    currency: str
    pay_url: str | None


@dataclass(frozen=True)
class PostalAddress:
    """A postal address as Stripe holds it (a Checkout Session's ``customer_details.address``)."""

    line1: str
    line2: str
    city: str
    state: str
    postal_code: str
    country: str

    def text(self) -> str:
        """The address as lines for an envelope (US style): street, then city, state and ZIP, then country."""
        place = " ".join(part for part in (", ".join(p for p in (self.city, self.state) if p), self.postal_code)
                         if part)
        return "\n".join(line for line in (self.line1, self.line2, place, self.country) if line.strip())
