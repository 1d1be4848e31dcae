"""Rate limits on what attackers hammer: signing in, the second factor, password resets,
registration, donor sign-in links and the donate form (card testing).

Every limit is in ``LIMITS`` below, by endpoint; ``init_app`` wraps them around the
views. Two kinds, both through Flask-Limiter:

- per address: every POST from one IP address counts;
- per account: only *failed* attempts count, keyed by the email address typed
  (or the account waiting for its second factor), whether or not an account
  uses it, so the pause looks the same for every address and reveals nothing.

Counts live in Redis when ``REDIS_URL`` is set (production requires it), else in
the process's memory. A breach answers 429 with Retry-After and our own page.
"""
from __future__ import annotations

from flask import Flask, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

PER_ADDRESS = "30 per 10 minutes"  # a union hall behind one address still signs in comfortably
FAILED_SIGN_INS_PER_ACCOUNT = "5 per 15 minutes"
FAILED_CODES_PER_ACCOUNT = "5 per 15 minutes"
LINKS_PER_ADDRESS = "10 per hour"
LINKS_PER_ACCOUNT = "3 per hour"
REGISTRATIONS_PER_ADDRESS = "10 per hour"
GIFTS_PER_ADDRESS = "20 per 10 minutes"  # card testers try many cards from one place


def _typed_email() -> str:
    return "email:" + (request.form.get("email") or "").strip().lower()[:254]


def _pending_account() -> str:
    """The account waiting for its code (its id, without the session version)."""
    return "second-factor:" + str(session.get("pending_user", "")).partition(":")[0]


def _refused(response) -> bool:
    """A form sent back with errors (422): a wrong password, a wrong code."""
    return response.status_code == 422


ADDRESS = None  # the visitor's address (behind TRUSTED_PROXIES, from X-Forwarded-For)

#: endpoint -> its limits on POST: (limit, key, count only refusals?, scope shared with other endpoints)
LIMITS: dict[str, list[tuple[str, object, bool, str]]] = {
    "accounts.login": [(PER_ADDRESS, ADDRESS, False, "sign-in"),
                       (FAILED_SIGN_INS_PER_ACCOUNT, _typed_email, True, "sign-in-account")],
    "accounts.second_factor": [(PER_ADDRESS, ADDRESS, False, "second-factor"),
                               (FAILED_CODES_PER_ACCOUNT, _pending_account, True, "second-factor-account")],
    "accounts.setup_second_factor": [(PER_ADDRESS, ADDRESS, False, "second-factor"),
                                     (FAILED_CODES_PER_ACCOUNT, _pending_account, True, "second-factor-account")],
    "accounts.new_recovery_codes": [(PER_ADDRESS, ADDRESS, False, "second-factor")],
    "accounts.request_reset": [(LINKS_PER_ADDRESS, ADDRESS, False, "links"),
                               (LINKS_PER_ACCOUNT, _typed_email, False, "links-account")],
    "donor.login": [(LINKS_PER_ADDRESS, ADDRESS, False, "links"),
                    (LINKS_PER_ACCOUNT, _typed_email, False, "links-account")],
    "accounts.reset_password": [(LINKS_PER_ADDRESS, ADDRESS, False, "reset-token")],
    "accounts.register": [(REGISTRATIONS_PER_ADDRESS, ADDRESS, False, "register")],
    "donations.donate": [(GIFTS_PER_ADDRESS, ADDRESS, False, "give")],
    "donations.test_checkout": [(GIFTS_PER_ADDRESS, ADDRESS, False, "give")],
}


def init_app(app: Flask) -> Limiter:
    """This app's limiter (its own storage, so several apps in one process never share counts), with
    every limit above wrapped around its view."""
    limiter = Limiter(key_func=get_remote_address, app=app)
    for endpoint, limits in LIMITS.items():
        view = app.view_functions[endpoint]
        for value, key, refusals_only, scope in limits:
            view = limiter.limit(value, key_func=key, methods=["POST"], scope=scope,
                                 deduct_when=_refused if refusals_only else None)(view)
        app.view_functions[endpoint] = view
    app.extensions["fundapp.limiter"] = limiter
    return limiter


def limiter_of(app: Flask) -> Limiter:
    return app.extensions["fundapp.limiter"]
