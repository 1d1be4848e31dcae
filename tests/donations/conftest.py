"""Stripe in the tests: the real SDK against localstripe on 127.0.0.1, and events we sign ourselves
(with the SDK's own signature helper) for what localstripe cannot send."""
from __future__ import annotations

import json
import time

import pytest
import stripe

from fundapp.payments.local_server import LocalStripe

WEBHOOK_SECRET = "whsec_test_fundapp"


@pytest.fixture(scope="session")
def _localstripe():
    server = LocalStripe()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def localstripe(app, _localstripe, live_server):
    """A fresh local Stripe server wired to the app: the SDK calls it, its webhooks reach the live app."""
    _localstripe.reset()
    app.config.update(STRIPE_API_BASE=_localstripe.base_url, STRIPE_SECRET_KEY="sk_test_fundapp",
                      STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    _localstripe.register_webhook(f"{live_server}/stripe/webhook", WEBHOOK_SECRET)
    _localstripe.app_url = live_server
    yield _localstripe
    _localstripe.reset()


@pytest.fixture
def api(localstripe):
    """The Stripe SDK pointed at the local server, as an outside party (the dashboard, a Payment Link)."""
    return stripe.StripeClient("sk_test_fundapp", base_addresses={"api": localstripe.base_url},
                               max_network_retries=0).v1


def signed_event(event_type: str, obj: dict, event_id: str | None = None, secret: str = WEBHOOK_SECRET,
                 timestamp: int | None = None) -> tuple[bytes, dict]:
    """An event body and headers signed exactly as Stripe signs them."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    event = {"id": event_id or f"evt_{event_type.replace('.', '_')}_{obj.get('id', 'x')}", "object": "event",
             "type": event_type, "created": timestamp, "data": {"object": obj}, "livemode": False,
             "api_version": "2025-01-01"}
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}
