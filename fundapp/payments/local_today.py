"""localstripe, speaking the API version the SDK pins.

localstripe answers in the shapes of API versions from before 2025. ``speak_today`` puts an adapter
in front of it, so that what the SDK gets back (and what webhooks carry) has the pinned version's
shapes and the gateway runs the same code paths as against Stripe:

- Charge and PaymentIntent have no ``invoice`` (nor the PaymentIntent ``charges`` list).
- Invoice has no ``charge``, ``payment_intent`` or ``subscription``; once finalized it has a
  ``hosted_invoice_url`` (a local stand-in page); its subscription is
  ``parent.subscription_details.subscription`` and its payments are ``InvoicePayment`` objects
  (``GET /v1/invoice_payments`` by ``invoice`` or ``payment[payment_intent]``, and by id).
- Disputes: a charge paid with the test card 4000 0000 0000 0259 is disputed a moment later
  (``charge.dispute.created`` and ``.funds_withdrawn``, with a balance transaction of the amount and a
  $15 fee). Submitting evidence ``winning_evidence`` wins it (``.funds_reinstated``, ``.closed``);
  ``losing_evidence`` or ``POST /v1/disputes/{id}/close`` loses it (``.closed``). ``balance_transactions``
  is a plain list: asking to expand it is a 400, as on Stripe. Evidence is due (``evidence_details.due_by``)
  a week after it opens.
- A failed attempt to pay an invoice sends ``invoice.payment_failed``.
- Payouts in USD, paid at once, each with its own balance transaction; ``POST /_config/payouts/{id}/fail``
  fails one afterwards (the bank returned it), as Stripe's test bank account 000111111116 does. They stand
  in for Stripe's payout schedule, so they are ``automatic``: each carries every balance transaction no
  earlier payout carried, and ``GET /v1/balance_transactions?payout=po_...`` lists those (and the payout's
  own), as Stripe lists an automatic payout's.
- Events carry the pinned ``api_version``.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web

#: What localstripe hands over (its resources, objects and store): it ships no types.
Localstripe = Any


# --- the adapter: today's shapes in front of localstripe ------------------------------------------

DISPUTED_CARD = "4000000000000259"
_BASE_URL: list[str] = []  # where this server answers, for the links it hands out (hosted invoice pages)
DISPUTE_FEE_CENTS = 1_500
EVIDENCE_DAYS = 7  # a dispute's evidence is due this long after it opens (Stripe gives one to three weeks)
_SPOKEN: list[bool] = []


def speak_today(app: web.Application) -> None:
    """Make localstripe answer in the pinned API version's shapes (see the module docstring); once."""
    if _SPOKEN:
        return
    _SPOKEN.append(True)
    import stripe
    from aiohttp import web
    from localstripe import resources as r
    from localstripe.errors import UserError
    from localstripe.server import get_post_data, json_response, unflatten_data
    from localstripe.webhooks import schedule_webhook

    def reshape(cls: Localstripe, change: Callable[[Localstripe, dict[str, Any]], dict[str, Any]]) -> None:
        original = cls._export

        def export(self: Localstripe, expand: list[str] | None = None) -> dict[str, Any]:
            return change(self, original(self, expand=expand))
        cls._export = export

    def charge_today(charge: Localstripe, obj: dict[str, Any]) -> dict[str, Any]:
        obj.pop("invoice", None)
        if "billing_details" not in obj:  # always there on Stripe: the payment method's
            method = r.store.get("payment_method:" + (charge.payment_method or ""))
            obj["billing_details"] = billing(getattr(method, "billing_details", None))
        obj.setdefault("paid", obj.get("status") == "succeeded")
        obj["disputed"] = bool(getattr(charge, "_disputed", False))  # marked by Dispute: no scan of the store
        return obj

    def billing(details: dict[str, Any] | None) -> dict[str, Any]:
        """Billing details as Stripe gives them: every field, null where unknown."""
        found = {"address": None, "email": None, "name": None, "phone": None, "tax_id": None, **dict(details or {})}
        if found["address"]:  # every field of an address, null where unknown, as Stripe gives it
            found["address"] = {key: None for key in ("city", "country", "line1", "line2", "postal_code", "state")} \
                | dict(found["address"])
        return found

    def method_today(_method: Localstripe, obj: dict[str, Any]) -> dict[str, Any]:
        obj["billing_details"] = billing(obj.get("billing_details"))
        return obj

    def intent_today(_intent: Localstripe, obj: dict[str, Any]) -> dict[str, Any]:
        obj.pop("invoice", None)
        obj.pop("charges", None)
        return obj

    def invoice_today(invoice: Localstripe, obj: dict[str, Any]) -> dict[str, Any]:
        for gone in ("charge", "payment_intent", "subscription"):
            obj.pop(gone, None)
        subscription = getattr(invoice, "subscription", None)
        if obj.get("status") != "draft":  # a finalized invoice has Stripe's page to pay it
            obj["hosted_invoice_url"] = f"{_BASE_URL[0] if _BASE_URL else ''}/_local/invoices/{invoice.id}"
        obj["parent"] = None if not subscription else {
            "type": "subscription_details", "quote_details": None,
            "subscription_details": {"subscription": subscription,
                                     "metadata": dict(r.Subscription._api_retrieve(subscription).metadata or {})}}
        return obj

    def event_today(_event: Localstripe, obj: dict[str, Any]) -> dict[str, Any]:
        obj["api_version"] = stripe.api_version
        return obj

    reshape(r.Charge, charge_today)
    reshape(r.PaymentIntent, intent_today)
    reshape(r.PaymentMethod, method_today)
    reshape(r.Invoice, invoice_today)
    reshape(r.Event, event_today)

    class Txn(r.BalanceTransaction):  # type: ignore[misc]  # localstripe's classes are untyped (Any)
        """A balance transaction localstripe cannot make itself (a dispute's, a payout's)."""

        def __init__(self, amount: int, fee: int, currency: str, source: str, kind: str, description: str) -> None:
            r.StripeObject.__init__(self)
            self.amount, self.fee, self.currency, self.source = amount, fee, currency, source
            self.type = self.reporting_category = kind
            self.description, self.exchange_rate, self.status = description, None, "available"
            self.available_on = self.created
            self.fee_details = ([{"amount": fee, "currency": currency, "type": "stripe_fee",
                                  "description": "Dispute fee", "application": None}] if fee else [])

    class Dispute(r.StripeObject):  # type: ignore[misc]  # localstripe's classes are untyped (Any)
        object = "dispute"
        _id_prefix = "dp_"
        metadata: dict[str, str]
        evidence: dict[str, Any]

        def __init__(self, charge: Localstripe) -> None:
            super().__init__()
            self.amount, self.currency, self.charge = charge.amount, charge.currency, charge.id
            charge._disputed = True  # what the charge's own "disputed" says
            self.payment_intent = charge.payment_intent
            self.reason, self.status, self.metadata, self.evidence = "fraudulent", "needs_response", {}, {}
            self.is_charge_refundable = False
            self.evidence_details = {"due_by": self.created + EVIDENCE_DAYS * 86_400, "has_evidence": False,
                                     "past_due": False, "submission_count": 0, "submission_method": "not_submitted",
                                     "enhanced_eligibility": {}}
            self.balance_transactions = [Txn(-charge.amount, DISPUTE_FEE_CENTS, charge.currency, self.id,
                                             "dispute", f"Chargeback withdrawal for {charge.id}")]

        def _export(self, expand: list[str] | None = None) -> dict[str, Any]:
            if expand and any(path.split(".")[0] == "balance_transactions" for path in expand):
                raise UserError(400, "This property cannot be expanded (balance_transactions).")
            return super()._export(expand=expand)

        def _close(self, won: bool) -> None:
            if self.status in ("won", "lost"):
                raise UserError(400, f"This dispute is already {self.status}.")
            self.status = "won" if won else "lost"
            if won:
                self.balance_transactions.append(Txn(self.amount, 0, self.currency, self.id, "dispute",
                                                     f"Chargeback reversal for {self.charge}"))
                schedule_webhook(r.Event("charge.dispute.funds_reinstated", self))
            schedule_webhook(r.Event("charge.dispute.closed", self))

    def open_dispute_later(charge: Localstripe) -> None:

        async def later() -> None:
            await asyncio.sleep(0.5)  # after the payment's own events, as Stripe's come hours later
            dispute = Dispute(charge)
            schedule_webhook(r.Event("charge.dispute.created", dispute))
            schedule_webhook(r.Event("charge.dispute.funds_withdrawn", dispute))
        asyncio.ensure_future(later())

    # localstripe finds a charge's refunds by scanning its whole store, three times each time a charge is shown:
    # a burst of thousands of payments then slows to a crawl. Each charge keeps its own refunds instead.
    original_refund_init = r.Refund.__init__
    original_list_refunds = r.Refund._api_list_all.__func__

    def refund_init(self: Localstripe, *args: Any, **kwargs: Any) -> None:
        original_refund_init(self, *args, **kwargs)
        r.store["charge:" + self.charge].__dict__.setdefault("_refund_list", []).append(self)

    def refunds_of(charge: Localstripe) -> list[Localstripe]:
        return sorted(getattr(charge, "_refund_list", ()), key=lambda refund: refund.date, reverse=True)

    def charge_refunds(self: Localstripe) -> Localstripe:
        listed = r.List("/v1/charges/" + self.id + "/refunds")
        listed._list = refunds_of(self)
        return listed

    def list_refunds(cls: Localstripe, url: str, charge: Any = None, payment_intent: Any = None, limit: Any = None,
                     starting_after: Any = None) -> Localstripe:
        if not (isinstance(charge, str) and charge.startswith("ch_")) or payment_intent is not None:
            return original_list_refunds(cls, url, charge=charge, payment_intent=payment_intent, limit=limit,
                                         starting_after=starting_after)
        listed = r.List(url, limit=limit, starting_after=starting_after)
        listed._list = refunds_of(r.Charge._api_retrieve(charge))  # 404 for a charge it does not know
        return listed

    r.Refund.__init__ = refund_init
    r.Charge.refunds = property(charge_refunds)
    r.Refund._api_list_all = classmethod(list_refunds)

    original_confirm = r.PaymentIntent._confirm

    def confirm(self: Localstripe, on_failure_now: Callable[[], None]) -> Localstripe:
        """Paying an invoice by hand (``/v1/invoices/{id}/pay``) tells of a failed attempt with
        ``invoice.payment_failed``, as Stripe does (localstripe stays silent there)."""
        if self.invoice:
            invoice = r.Invoice._api_retrieve(self.invoice)
            told = on_failure_now

            def on_failure_now() -> None:
                told()
                if invoice.status == "open":
                    schedule_webhook(r.Event("invoice.payment_failed", invoice))
        return original_confirm(self, on_failure_now)
    r.PaymentIntent._confirm = confirm

    original_trigger = r.Charge._trigger_payment

    def trigger_payment(self: Localstripe, on_success: Callable[[], None] | None = None) -> Localstripe:
        def succeeded() -> None:
            if on_success is not None:
                on_success()
            method = r.PaymentMethod._api_retrieve(self.payment_method) if self.payment_method.startswith("pm_") \
                else None
            if method is not None and getattr(method, "_card_number", None) == DISPUTED_CARD:
                open_dispute_later(self)
        return original_trigger(self, on_success=succeeded)
    r.Charge._trigger_payment = trigger_payment

    def payout_init(self: Localstripe, amount: Any = None, currency: Any = None, description: str | None = None,
                    metadata: dict[str, str] | None = None, **_ignored: Any) -> None:
        """A payout in the fund's currency (localstripe's own take only euros), paid at once."""
        try:
            amount = int(amount)
        except (TypeError, ValueError) as exc:
            raise UserError(400, "Bad request") from exc
        if amount <= 0 or not isinstance(currency, str) or len(currency) != 3:
            raise UserError(400, "Bad request")
        r.StripeObject.__init__(self)
        self.amount, self.currency, self.description, self.metadata = amount, currency.lower(), description or "", \
            metadata or {}
        self.arrival_date, self.automatic, self.method, self.type = self.created, True, "standard", "bank_account"
        self.destination, self.source_type, self.statement_descriptor = "ba_local", "card", ""
        self.failure_balance_transaction = self.failure_code = self.failure_message = None
        self.original_payout = self.reversed_by = None
        self.status = "paid"
        carried_before = {txn for payout in _objects(r, "payout") for txn in getattr(payout, "_carried", ())}
        #: The balance transactions this payout carried (Stripe's schedule sweeps what no payout took yet).
        self._carried = {txn.id for txn in _objects(r, "balance_transaction")
                         if txn.type not in ("payout", "payout_failure") and txn.id not in carried_before}
        self.balance_transaction = Txn(-amount, 0, self.currency, self.id, "payout", "STRIPE PAYOUT").id
        schedule_webhook(r.Event("payout.created", self))
        schedule_webhook(r.Event("payout.paid", self))
    r.Payout.__init__ = payout_init

    list_transactions = r.BalanceTransaction._api_list_all.__func__

    def list_transactions_of_payout(cls: Localstripe, /, url: str, limit: Any = None, starting_after: Any = None,
                                    payout: str | None = None, **kwargs: Any) -> Localstripe:
        """``payout``: what that payout carried and its own transaction (localstripe takes no filter)."""
        found = list_transactions(cls, url, limit, starting_after, **kwargs)
        if payout is not None:
            paid_out = r.Payout._api_retrieve(payout)
            found._list = [txn for txn in found._list
                           if txn.id in paid_out._carried or txn.id == paid_out.balance_transaction]
        return found
    r.BalanceTransaction._api_list_all = classmethod(list_transactions_of_payout)

    def listing(url: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"object": "list", "url": url, "has_more": False, "data": items}

    def invoice_payment(invoice: Localstripe) -> dict[str, Any]:
        paid = invoice.status == "paid"
        return {"id": "inpay_" + invoice.id[3:], "object": "invoice_payment", "invoice": invoice.id,
                "amount_paid": invoice.total if paid else None, "amount_requested": invoice.total,
                "currency": invoice.currency, "created": invoice.created, "is_default": True, "livemode": False,
                "payment": {"type": "payment_intent", "payment_intent": invoice.payment_intent, "charge": None,
                            "payment_record": None},
                "status": "paid" if paid else "open",
                "status_transitions": {"paid_at": invoice.created if paid else None, "canceled_at": None}}

    async def list_invoice_payments(request: web.Request) -> web.Response:
        query = unflatten_data(request.query)
        wanted_invoice = query.get("invoice")
        wanted_intent = (query.get("payment") or {}).get("payment_intent")
        if wanted_intent is not None:  # the intent knows its invoice: no scan of the whole store per fetch
            intent = r.store.get("payment_intent:" + wanted_intent)
            invoices = [r.Invoice._api_retrieve(intent.invoice)] if intent is not None and intent.invoice else []
        elif wanted_invoice is not None:
            invoice = r.store.get("invoice:" + wanted_invoice)
            invoices = [invoice] if invoice is not None else []
        else:
            invoices = _objects(r, "invoice")
        found = [invoice_payment(inv) for inv in invoices if inv.payment_intent
                 and (wanted_invoice is None or inv.id == wanted_invoice)
                 and (wanted_intent is None or inv.payment_intent == wanted_intent)]
        return json_response(listing("/v1/invoice_payments", found))

    async def retrieve_invoice_payment(request: web.Request) -> web.Response:
        invoice = r.Invoice._api_retrieve("in_" + request.match_info["id"].removeprefix("inpay_"))
        return json_response(invoice_payment(invoice))

    def expand_of(request: web.Request) -> list[str]:
        expand = unflatten_data(request.query).get("expand")
        return [expand] if isinstance(expand, str) else list(expand or [])

    async def retrieve_dispute(request: web.Request) -> web.Response:
        return json_response(Dispute._api_retrieve(request.match_info["id"])._export(expand=expand_of(request)))

    async def list_disputes(request: web.Request) -> web.Response:
        disputes = sorted(_objects(r, "dispute"), key=lambda d: d.created, reverse=True)
        return json_response(listing("/v1/disputes", [d._export() for d in disputes]))

    async def update_dispute(request: web.Request) -> web.Response:
        dispute = Dispute._api_retrieve(request.match_info["id"])
        evidence = ((await get_post_data(request)) or {}).get("evidence") or {}
        text = " ".join(str(value) for value in evidence.values())
        dispute.evidence.update(evidence)
        dispute.evidence_details.update(has_evidence=True, submission_method="manual",
                                        submission_count=dispute.evidence_details["submission_count"] + 1)
        if "winning_evidence" in text or "losing_evidence" in text:
            dispute._close(won="winning_evidence" in text)
        else:
            schedule_webhook(r.Event("charge.dispute.updated", dispute))
        return json_response(dispute._export())

    async def close_dispute(request: web.Request) -> web.Response:
        dispute = Dispute._api_retrieve(request.match_info["id"])
        dispute._close(won=False)
        return json_response(dispute._export())

    async def fail_payout(request: web.Request) -> web.Response:
        """What Stripe does when the bank returns a paid payout (its test bank account 000111111116): the
        payout fails and the money comes back to the balance."""
        payout = r.Payout._api_retrieve(request.match_info["id"])
        payout.status, payout.failure_code = "failed", "account_closed"
        payout.failure_message = "The bank account has been closed."
        payout.failure_balance_transaction = Txn(payout.amount, 0, payout.currency, payout.id, "payout_failure",
                                                 "STRIPE PAYOUT FAILED").id
        schedule_webhook(r.Event("payout.failed", payout))
        return json_response(payout._export())

    async def invoice_page(request: web.Request) -> web.Response:
        """The stand-in for Stripe's hosted invoice page (in local mode there is no card form to pay it)."""
        invoice = r.Invoice._api_retrieve(request.match_info["id"])
        return web.Response(content_type="text/html", text=(
            f"<!doctype html><title>Invoice {invoice.id}</title><h1>TEST MODE: invoice {invoice.id}</h1>"
            f"<p>{invoice.total / 100:.2f} {invoice.currency.upper()}, {invoice.status}. On Stripe, the donor pays "
            f"it here with another card.</p>"))

    for method, path, handler in (
            ("GET", "/_local/invoices/{id}", invoice_page),
            ("POST", "/_config/payouts/{id}/fail", fail_payout),
            ("GET", "/v1/invoice_payments", list_invoice_payments),
            ("GET", "/v1/invoice_payments/{id}", retrieve_invoice_payment),
            ("GET", "/v1/disputes", list_disputes),
            ("GET", "/v1/disputes/{id}", retrieve_dispute),
            ("POST", "/v1/disputes/{id}", update_dispute),
            ("POST", "/v1/disputes/{id}/close", close_dispute)):
        app.router.add_route(method, path, handler)


def _objects(resources: Localstripe, kind: str) -> list[Localstripe]:
    return [value for key, value in list(resources.store.items()) if key.startswith(kind + ":")]
