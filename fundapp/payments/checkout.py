"""Stripe Checkout: the session a donor is sent to, with the gift's amount, the fee they chose to cover, the
monthly price, the fund's legal statement and the metadata that names the gift."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fundapp.payments.gateway import _stripe_errors, client

if TYPE_CHECKING:
    from stripe.params.checkout import (
        SessionCreateParams,
        SessionCreateParamsLineItem,
        SessionCreateParamsLineItemPriceData,
    )

CUSTOM_TEXT_MAX = 1200


def checkout_session_params(*, amount_cents: int, fee_cover_cents: int, currency: str, monthly: bool,
                            gift_label: str, fee_label: str, metadata: dict[str, str], email: str, locale: str,
                            success_url: str, cancel_url: str, statement: str = "",
                            billing_address: bool = False) -> SessionCreateParams:
    """What ``create_checkout_session`` sends: the gift (and the fee cover as its own line), shown as a
    donation, with ``statement`` (the fund's tax statement) beside the pay button; with ``billing_address``,
    Checkout requires the payer's billing address (a large gift: Schedule B lists the donor's address)."""
    def line(label: str, cents: int) -> SessionCreateParamsLineItem:
        price: SessionCreateParamsLineItemPriceData = {"currency": currency.lower(), "unit_amount": cents,
                                                       "product_data": {"name": label}}
        if monthly:
            price["recurring"] = {"interval": "month"}
        return {"price_data": price, "quantity": 1}

    params: SessionCreateParams = {
        "mode": "subscription" if monthly else "payment",
        "line_items": [line(gift_label, amount_cents)] + ([line(fee_label, fee_cover_cents)] if fee_cover_cents else []),
        "customer_email": email,
        # The SDK leaves a None out of the request (stripe._encode); checkout_metadata always sets "donation".
        "client_reference_id": metadata.get("donation"),  # type: ignore[typeddict-item]
        "metadata": metadata,
        "locale": locale,
        "success_url": success_url,
        "cancel_url": cancel_url,
        # The pinned API version takes submit_type in subscription mode too ("can only be specified on
        # Checkout Sessions in payment or subscription mode": SessionCreateParams, stripe 16.1.0).
        "submit_type": "donate",
    }
    if monthly:
        params["subscription_data"] = {"metadata": metadata}
    else:
        params["payment_intent_data"] = {"metadata": metadata}
    if statement:
        if len(statement) > CUSTOM_TEXT_MAX:  # cut short, a legal statement would say something else
            raise ValueError(f"the statement for Checkout is {len(statement)} characters; Stripe takes "
                             f"{CUSTOM_TEXT_MAX}")
        params["custom_text"] = {"submit": {"message": statement}}
    if billing_address:
        params["billing_address_collection"] = "required"
    return params


@_stripe_errors
def create_checkout_session(*, amount_cents: int, fee_cover_cents: int, currency: str, monthly: bool,
                            gift_label: str, fee_label: str, metadata: dict[str, str], email: str, locale: str,
                            success_url: str, cancel_url: str, idempotency_key: str,
                            statement: str = "", billing_address: bool = False) -> tuple[str, str | None]:
    """A Stripe Checkout Session for the gift (see ``checkout_session_params``); returns (id, url)."""
    params = checkout_session_params(
        amount_cents=amount_cents, fee_cover_cents=fee_cover_cents, currency=currency, monthly=monthly,
        gift_label=gift_label, fee_label=fee_label, metadata=metadata, email=email, locale=locale,
        success_url=success_url, cancel_url=cancel_url, statement=statement, billing_address=billing_address)
    session = client().v1.checkout.sessions.create(params=params, options={"idempotency_key": idempotency_key})
    return session.id, session.url
