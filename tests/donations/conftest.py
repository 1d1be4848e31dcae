"""Events we sign ourselves (with the SDK's own signature helper) for what localstripe cannot send;
the localstripe fixtures themselves are in tests/conftest.py (the browser tests use them too)."""
from __future__ import annotations

import json
import time

import stripe

from fundapp.payments.gateway import API_VERSION
from tests.conftest import WEBHOOK_SECRET


def signed_event(event_type: str, obj: dict, event_id: str | None = None, secret: str = WEBHOOK_SECRET,
                 timestamp: int | None = None, api_version: str = API_VERSION) -> tuple[bytes, dict]:
    """An event body and headers signed exactly as Stripe signs them."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    event = {"id": event_id or f"evt_{event_type.replace('.', '_')}_{obj.get('id', 'x')}", "object": "event",
             "type": event_type, "created": timestamp, "data": {"object": obj}, "livemode": False,
             "api_version": api_version}
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}
