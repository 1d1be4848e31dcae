"""What must never reach a user or the log: stack traces and error details on the page; passwords,
codes, reset links, keys and secrets in the log (captured at DEBUG while people sign in, reset,
pay and while Stripe's requests arrive, good and bad)."""
from __future__ import annotations

import logging
import re

from fundapp import create_app
from fundapp.extensions import db
from tests.conftest import PASSWORD, WEBHOOK_SECRET, authenticator_code, base_config, run_worker_once
from tests.donations.conftest import signed_event


def test_an_error_shows_our_page_without_a_trace_or_its_message(database_url):
    app = create_app(base_config(database_url, TESTING=False, PROPAGATE_EXCEPTIONS=False))

    @app.get("/explode")
    def explode():
        raise RuntimeError("internal detail: postgres://fund:s3cret@db/fund")

    explode.fundapp_access = None
    from fundapp.policy import public

    app.view_functions["explode"] = public(explode)
    response = app.test_client().get("/explode")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert "Traceback" not in page and "s3cret" not in page and "RuntimeError" not in page
    with app.app_context():
        db.engine.dispose()


def test_secrets_never_reach_the_log(app, client, create_user, fund, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    app.config.update(STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_SECRET_KEY="sk_test_never_logged_7731")
    create_user("tom@example.org", "trustee")
    create_user("ana@example.org", "applicant")
    client.post("/login", data={"email": "tom@example.org", "password": "wrong-but-private-1234"})
    client.post("/login", data={"email": "tom@example.org", "password": PASSWORD})
    code = authenticator_code("tom@example.org")
    client.post("/login/code", data={"code": code})
    client.post("/logout")
    client.post("/reset", data={"email": "ana@example.org"})
    run_worker_once()
    link = re.search(r"https?://\S+/reset/(\S+)", smtp.messages[-1].get_body(("plain",)).get_content()).group(1)
    client.post(f"/reset/{link}", data={"password": "a brand new passphrase 42", "confirm": "a brand new passphrase 42"})
    payload, headers = signed_event("charge.succeeded", {"id": "ch_unknown_here"}, event_id="evt_logged_id")
    client.post("/stripe/webhook", data=payload, headers=headers)
    client.post("/stripe/webhook", data=payload, headers={**headers, "Stripe-Signature": "t=1,v1=forged"})
    from fundapp.donations import events

    events.apply_waiting_events()  # fails at the (unreachable) Stripe API: logged, with no key
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records  # something was logged, so the absence below means something
    for secret in ("wrong-but-private-1234", PASSWORD, code, link, "a brand new passphrase 42", WEBHOOK_SECRET,
                   "sk_test_never_logged_7731", app.config["SECRET_KEY"], headers["Stripe-Signature"]):
        assert secret not in logged, f"{secret[:6]}... reached the log"
