"""Rate limits on what attackers hammer: signing in, the second factor, password resets,
registration, proving membership (guessing member numbers), donor sign-in links and the donate
form (card testing).

Every limit is in ``LIMITS`` below, by endpoint; ``init_app`` wraps them around the
views. Two kinds, both through Flask-Limiter:

- per address: every POST from one IP address counts;
- per account: every attempt to sign in or type a code counts, keyed by the email
  address typed (or the account waiting for its second factor), whether or not an
  account uses it, so the pause looks the same for every address and reveals nothing;
  for payments and new recovery codes, wrong fresh codes count, per person.

Each endpoint counts in its own bucket (Flask-Limiter adds the endpoint to the scope).

Counts live in Redis when ``REDIS_URL`` is set (production requires it), else in
the process's memory. A breach answers 429 with Retry-After and our own page, and is counted by the limit's scope
(``fundapp_rate_limit_refusals_total`` on /metrics).
"""
from __future__ import annotations

from flask import Flask, g, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from fundapp.metrics import RATE_LIMIT_REFUSALS

PER_ADDRESS = "30 per 10 minutes"  # a union hall behind one address still signs in comfortably
SIGN_INS_PER_ACCOUNT = "10 per 15 minutes"  # every attempt, right or wrong
CODES_PER_ACCOUNT = "6 per 15 minutes"  # every code typed while waiting: five wrong, then the right one
FAILED_CODES_PER_PERSON = "5 per 15 minutes"  # fresh codes asked of someone signed in (payments, new codes)
PAYMENTS_PER_PERSON = "60 per 10 minutes"  # a ceiling on guessing codes in parallel through payments
LINKS_PER_ADDRESS = "10 per hour"
LINKS_PER_ACCOUNT = "3 per hour"
REGISTRATIONS_PER_ADDRESS = "10 per hour"
GIFTS_PER_ADDRESS = "20 per 10 minutes"  # card testers try many cards from one place
MEMBERSHIP_TRIES_PER_PERSON = "5 per hour"  # a member types their card's details once or twice; a guesser is paused
MEMBERSHIP_TRIES_PER_ADDRESS = "30 per hour"  # a union hall linking its members behind one address
MEMBERSHIP_MISSES_PER_NUMBER = "5 per hour"  # many accounts guessing one member's details


def _typed_email() -> str:
    return "email:" + (request.form.get("email") or "").strip().lower()[:254]


def _typed_member_number() -> str:
    return "member:" + (request.form.get("member_id") or "").strip().upper()[:40]


def _pending_account() -> str:
    """The account waiting for its code (its id, without the session version)."""
    return "second-factor:" + str(session.get("pending_user", "")).partition(":")[0]


def _signed_in_person() -> str:
    from flask_login import current_user

    return "person:" + str(current_user.id if current_user.is_authenticated else "")


def code_refused() -> None:
    """A view marks its request as carrying a wrong code: the per-person limits below count it."""
    g.code_refused = True


def _refused(response) -> bool:
    """The request carried a wrong code (its view said so), or a form came back with errors (422)."""
    return response.status_code == 422 or bool(g.get("code_refused"))


ADDRESS = None  # the visitor's address (behind TRUSTED_PROXIES, from X-Forwarded-For)

#: endpoint -> its limits on POST: (limit, key, count only refusals?, scope). Signing in and typing a code count
#: every attempt *before* the request runs (a count taken after it would let attempts sent at once slip past);
#: a payment counts only a wrong fresh code (a treasurer pays many grants), under a ceiling on all attempts.
LIMITS: dict[str, list[tuple[str, object, bool, str]]] = {
    "accounts.login": [(PER_ADDRESS, ADDRESS, False, "sign-in"),
                       (SIGN_INS_PER_ACCOUNT, _typed_email, False, "sign-in-account")],
    "accounts.second_factor": [(PER_ADDRESS, ADDRESS, False, "second-factor"),
                               (CODES_PER_ACCOUNT, _pending_account, False, "second-factor-account")],
    "accounts.setup_second_factor": [(PER_ADDRESS, ADDRESS, False, "second-factor"),
                                     (CODES_PER_ACCOUNT, _pending_account, False, "second-factor-account")],
    "accounts.new_recovery_codes": [(FAILED_CODES_PER_PERSON, _signed_in_person, True, "fresh-code"),
                                    (CODES_PER_ACCOUNT, _signed_in_person, False, "new-codes")],
    "review.pay": [(FAILED_CODES_PER_PERSON, _signed_in_person, True, "fresh-code"),
                   (PAYMENTS_PER_PERSON, _signed_in_person, False, "payments")],
    "review.pay_batch": [(FAILED_CODES_PER_PERSON, _signed_in_person, True, "fresh-code"),
                         (PAYMENTS_PER_PERSON, _signed_in_person, False, "payments")],
    "accounts.request_reset": [(LINKS_PER_ADDRESS, ADDRESS, False, "links"),
                               (LINKS_PER_ACCOUNT, _typed_email, False, "links-account")],
    "donor.login": [(LINKS_PER_ADDRESS, ADDRESS, False, "links"),
                    (LINKS_PER_ACCOUNT, _typed_email, False, "links-account")],
    "accounts.reset_password": [(LINKS_PER_ADDRESS, ADDRESS, False, "reset-token")],
    "accounts.register": [(REGISTRATIONS_PER_ADDRESS, ADDRESS, False, "register"),
                          (LINKS_PER_ACCOUNT, _typed_email, False, "register-account")],  # each mails the address
    "accounts.confirm_registration": [(LINKS_PER_ADDRESS, ADDRESS, False, "register-token")],
    "accounts.membership": [(MEMBERSHIP_TRIES_PER_ADDRESS, ADDRESS, False, "membership"),
                            (MEMBERSHIP_TRIES_PER_PERSON, _signed_in_person, False, "membership-person"),
                            (MEMBERSHIP_MISSES_PER_NUMBER, _typed_member_number, True, "membership-number")],
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
                                 deduct_when=_refused if refusals_only else None,
                                 on_breach=_count_refusal(scope))(view)
        app.view_functions[endpoint] = view
    app.extensions["fundapp.limiter"] = limiter
    return limiter


def _count_refusal(scope: str):
    """The limit's on_breach: count the refusal under the limit's scope (never its key: an address, an email)."""
    series = RATE_LIMIT_REFUSALS.labels(limit=scope)  # at 0 from the start

    def count(_limit) -> None:
        series.inc()

    return count


def limiter_of(app: Flask) -> Limiter:
    return app.extensions["fundapp.limiter"]
