"""Facts: what Stripe says happened, in plain values (integer cents, UTC moments, dates, ids), and the two
errors that say what to do when it cannot say yet.

``payments.events`` turns a verified webhook event into these facts (fetching its objects back from Stripe);
``donations.booking.apply_fact`` books them. Nothing Stripe-shaped (an SDK object, an event's dict) crosses
that line: donations reads only these.

A moment (``at``) is given as Stripe gives it, in UTC: which of the fund's days it falls on is the fund's
clock's business (``fundapp.funds.clock``), not the gateway's."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


class RetryLater(RuntimeError):
    """Not now: Stripe could not be reached, has not got what booking needs yet (a balance transaction), or
    another delivery is booking the same money. Nothing was decided; the same work later will succeed. The one
    error the worker retries for a known reason (``gateway.GatewayError`` and ``gateway.FactsIncomplete`` are
    kinds of it)."""


class NotConfirmed(RuntimeError):
    """Stripe does not know the object an event names (404), or its copy disagrees with the event: nothing
    is booked, and trying again will not change that."""


class WrongApiVersion(NotConfirmed):
    """An event rendered in another API version than ``gateway.API_VERSION``: its shapes are not the ones read."""


@dataclass(frozen=True)
class ReceivedEvent:
    """A webhook event whose signature was verified, as the queue keeps it: its id, type and body (JSON text)."""

    event_id: str
    type: str
    payload: str


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

    @property
    def donation_token(self) -> str | None:
        """Our gift's token, from the metadata fundapp sent with the checkout (None for a charge we did not start)."""
        return self.metadata.get("donation") or None


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
    #: The balance transactions it carried, when asked for (``gateway.payout_fact(..., with_lines=True)``: an
    #: installation of several funds splits a payout by them); None when not asked for, or for a manual payout,
    #: whose contents Stripe does not list.
    lines: tuple[PayoutLine, ...] | None = None


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
class DisputeState:
    """What Stripe says of a dispute now (the money is the books'): its status and evidence deadline."""

    dispute_id: str
    status: str  # "needs_response", "under_review", "won", "lost", "warning_needs_response" ...
    reason: str  # "fraudulent", "duplicate", "product_not_received" ...
    #: When Stripe stops taking evidence (UTC); None once no evidence is due.
    evidence_due_at: datetime | None


@dataclass(frozen=True)
class PayoutLine:
    """One balance transaction a payout carried: a charge (``source_id`` is the charge), a refund, a dispute."""

    type: str  # "charge", "payment", "refund", "dispute", "stripe_fee" ...
    source_id: str | None
    amount_cents: int
    fee_cents: int
    #: The balance transaction's own id (a dispute's movement is booked under it).
    transaction_id: str = ""


@dataclass(frozen=True)
class PayoutState:
    """What Stripe says of a payout now (the amount is the books'), and what it carried."""

    payout_id: str
    status: str  # "paid", "pending", "in_transit", "failed", "canceled"
    arrival_day: date
    failure_message: str
    #: The balance transactions it carried (not its own), as Stripe lists them; None for a manual payout,
    #: whose contents Stripe does not list (the ``payout`` filter is for automatic payouts only).
    lines: tuple[PayoutLine, ...] | None


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


@dataclass(frozen=True)
class ChargeHistory:
    """A settled charge and every succeeded refund of it, as Stripe has them now."""

    payment: PaymentSettled
    refunds: tuple[RefundSettled, ...] = ()


@dataclass(frozen=True)
class CheckoutCompleted:
    """A donor finished Stripe's checkout: it names the payment (no money is booked from it)."""

    session_id: str | None
    #: Our gift's token (``client_reference_id``, or the session's metadata).
    donation_token: str | None
    payment_intent_id: str | None
    subscription_id: str | None
    customer_id: str | None
    #: The billing address the payer gave (asked for large gifts), from the signed event.
    address: PostalAddress | None
    #: Paid by bank debit, the payment is still on its way (Stripe says the intent is "processing").
    processing: bool = False


@dataclass(frozen=True)
class CheckoutExpired:
    """The checkout expired unpaid."""

    session_id: str | None
    donation_token: str | None


@dataclass(frozen=True)
class PaymentFailed:
    """A gift's payment did not go through: a refused card (``message`` is Stripe's, possibly empty), or a bank
    debit the bank did not make (``by_bank``)."""

    donation_token: str | None
    message: str = ""
    by_bank: bool = False


@dataclass(frozen=True)
class SubscriptionChanged:
    """A monthly gift's subscription changed; ``status`` is Stripe's now ("active", "canceled" ...)."""

    subscription_id: str
    status: str


#: What ``payments.events`` hands to donations.
Fact = (PaymentSettled | ChargeHistory | DisputeMovement | PayoutFact | InvoiceUnpaid | CheckoutCompleted
        | CheckoutExpired | PaymentFailed | SubscriptionChanged)
