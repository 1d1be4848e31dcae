"""/metrics: refused to the public (a bearer token from METRICS_TOKEN, or this machine when it is unset), read by
prometheus_client's own parser; its counters move with what the app really does (a gift booked through the webhook
and the worker, a booking rolled back, a wrong password or code, a rate limit), its gauges say what the app computes,
under gunicorn it adds up every worker process, and the Grafana dashboard asks only for metrics it serves."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess  # nosec B404 # the test starts gunicorn itself, on 127.0.0.1
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from fundapp import create_app, health, metrics
from fundapp.config import ConfigError, load_settings
from fundapp.donations import events, offline
from fundapp.donations.models import Donation, DonationStatus, StripeEvent
from fundapp.extensions import db, utcnow
from fundapp.funds import clock
from fundapp.ledger import services as ledger
from fundapp.mail import OutboxMessage
from fundapp.reporting import figures
from tests.conftest import WEBHOOK_SECRET, authenticator_code, base_config, free_port, injected_fault, production_env
from tests.donations.conftest import signed_event
from tests.donations.helpers import pay, pending_gift

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "metrics-token-" + "s" * 32
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample, by name and labels, as prometheus_client's parser reads the text."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(client, **kwargs) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200 and response.content_type.startswith("text/plain; version=0.0.4")
    return parse(response.get_data(as_text=True))


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def post_event(client, event_type: str, obj: dict, event_id: str):
    payload, headers = signed_event(event_type, obj, event_id=event_id)
    return client.post("/stripe/webhook", data=payload, headers=headers)


# --- who may read ---------------------------------------------------------------------------------------------------


def test_without_a_token_only_this_machine_unproxied_reads_them(client, fund):
    assert client.get("/metrics").status_code == 200  # the test client's peer is 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    refused = client.get("/metrics", environ_base=OUTSIDE)
    assert refused.status_code == 403 and "fundapp_" not in refused.get_data(as_text=True)
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):  # passed on by a proxy on this machine
        assert client.get("/metrics", headers={header: "127.0.0.1"}).status_code == 403, header
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.8"}).status_code == 403  # the private network


def test_behind_a_trusted_proxy_the_peer_decides_not_the_forwarded_address(database_url, fund):
    """TRUSTED_PROXIES makes REMOTE_ADDR the visitor's (from X-Forwarded-For): a visitor claiming 127.0.0.1 is
    still refused, because the request came through the proxy."""
    proxied = create_app(base_config(database_url, TRUSTED_PROXIES=1))
    behind = proxied.test_client()
    assert behind.get("/metrics", environ_base=OUTSIDE, headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403
    assert behind.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403
    assert behind.get("/metrics").status_code == 200
    with proxied.app_context():
        db.engine.dispose()


def test_with_a_token_only_the_token_reads_them(app, client, fund):
    app.config["METRICS_TOKEN"] = TOKEN
    assert client.get("/metrics").status_code == 403  # this machine too: the token is asked of everyone
    for authorization in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer "):
        assert client.get("/metrics", headers={"Authorization": authorization}).status_code == 403, authorization
    through_a_proxy = client.get("/metrics", environ_base=OUTSIDE, headers={
        "Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": "198.51.100.4"})
    assert through_a_proxy.status_code == 200 and "fundapp_http_requests_total" in through_a_proxy.get_data(
        as_text=True)


def test_production_refuses_a_short_token(monkeypatch, database_url, tmp_path):
    production_env(monkeypatch, database_url)
    monkeypatch.setenv("METRICS_TOKEN", "short")
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        create_app()
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    assert load_settings(str(tmp_path), {})["METRICS_TOKEN"] == TOKEN
    monkeypatch.setenv("METRICS_TOKEN", "")  # an empty line in the settings file: unset
    assert load_settings(str(tmp_path), {})["METRICS_TOKEN"] is None


# --- what is counted ------------------------------------------------------------------------------------------------


def test_requests_are_counted_by_route_never_by_path(client, fund):
    before = scrape(client)
    client.get("/thanks/a-secret-token-in-the-path")
    client.get("/no-such-page/one")
    client.get("/no-such-page/two")
    client.open("/", method="BREW")
    text = client.get("/metrics").get_data(as_text=True)
    after = parse(text)
    assert "a-secret-token" not in text and "no-such-page" not in text and "BREW" not in text

    def moved(name, **labels):
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert moved("fundapp_http_requests_total", route="/thanks/<token>", method="GET", status="404") == 1
    assert moved("fundapp_http_requests_total", route=metrics.UNMATCHED, method="GET", status="404") == 2
    assert moved("fundapp_http_requests_total", route=metrics.UNMATCHED, method="other", status="405") == 1
    assert moved("fundapp_http_requests_total", route="/metrics", method="GET", status="200") == 1
    assert moved("fundapp_http_request_duration_seconds_count", route="/thanks/<token>") == 1
    assert moved("fundapp_http_request_duration_seconds_bucket", route="/thanks/<token>", le="+Inf") == 1


@pytest.mark.no_worker  # the test applies the events itself, as the worker would
def test_a_gift_booked_through_the_webhook_and_the_worker_moves_the_counters(app, client, fund, localstripe, api):
    from localstripe import webhooks as localstripe_webhooks

    localstripe_webhooks._webhooks.clear()  # we deliver the events ourselves
    donation = pending_gift(fund, cents=2_500)
    intent = pay(api, donation)
    before = scrape(client)

    assert post_event(client, "payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"},
                      "evt_paid").get_json()["outcome"] == "stored"
    assert post_event(client, "payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"},
                      "evt_paid").get_json()["outcome"] == "duplicate"  # a re-delivery: not counted again
    stored = scrape(client)
    assert value(stored, "fundapp_stripe_events_stored_total") - value(before, "fundapp_stripe_events_stored_total") == 1
    assert value(stored, "fundapp_stripe_events_waiting") == 1
    assert value(stored, "fundapp_gifts_booked_total", way="card") == value(before, "fundapp_gifts_booked_total",
                                                                            way="card")

    assert events.apply_waiting_events().applied == 1
    assert db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED
    booked = scrape(client)
    for name, labels in (("fundapp_gifts_booked_total", {"way": "card"}),
                         ("fundapp_stripe_events_applied_total", {"outcome": "applied"})):
        assert value(booked, name, **labels) - value(before, name, **labels) == 1, name
    assert value(booked, "fundapp_stripe_events_failed_total") == value(before, "fundapp_stripe_events_failed_total")
    assert value(booked, "fundapp_stripe_events_waiting") == 0
    assert value(booked, "fundapp_available_to_grant_cents", fund=fund.slug) == ledger.available_to_grant(fund) > 0

    post_event(client, "customer.tax_id.created", {"id": "txi_1"}, "evt_other")  # a type fundapp does not read
    app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"  # Stripe's API down: nothing listens there
    post_event(client, "payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"}, "evt_again")
    done = events.apply_waiting_events()
    assert (done.ignored, done.failed) == (1, 1)
    after = scrape(client)
    assert value(after, "fundapp_stripe_events_applied_total", outcome="ignored") - value(
        before, "fundapp_stripe_events_applied_total", outcome="ignored") == 1
    assert value(after, "fundapp_stripe_events_failed_total") - value(before, "fundapp_stripe_events_failed_total") == 1
    assert value(after, "fundapp_gifts_booked_total", way="card") == value(booked, "fundapp_gifts_booked_total",
                                                                           way="card")


@pytest.mark.no_worker
def test_a_booking_rolled_back_is_not_counted_and_its_retry_counts_once(client, fund, localstripe, api):
    """A real fault in the database after the gift's entry was written, in the same savepoint (its receipt mail
    is refused): the booking rolls back, so the count it asked for is dropped; the retry counts one."""
    from localstripe import webhooks as localstripe_webhooks

    localstripe_webhooks._webhooks.clear()
    intent = pay(api, pending_gift(fund, cents=3_300))
    before = scrape(client)
    with injected_fault("refuse_mail", "outbox_messages"):
        post_event(client, "payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"}, "evt_1")
        assert events.apply_waiting_events().failed == 1
        assert "injected fault" in db.session.get(StripeEvent, "evt_1").last_error
        failed = scrape(client)
        assert value(failed, "fundapp_gifts_booked_total", way="card") == value(before, "fundapp_gifts_booked_total",
                                                                                way="card")
        assert value(failed, "fundapp_stripe_events_failed_total") - value(
            before, "fundapp_stripe_events_failed_total") == 1
    db.session.get(StripeEvent, "evt_1").next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert events.apply_waiting_events().applied == 1
    after = scrape(client)
    assert value(after, "fundapp_gifts_booked_total", way="card") - value(before, "fundapp_gifts_booked_total",
                                                                          way="card") == 1


def test_a_count_waits_for_the_whole_transaction(app, fund):
    """A savepoint released inside a transaction that then rolls back counts nothing; a commit counts once."""
    def counted():
        return metrics.REGISTRY.get_sample_value("fundapp_gifts_booked_total", {"way": "offline"})

    start = counted()
    db.session.execute(sa.select(1))
    with db.session.begin_nested():
        metrics.count_on_commit(metrics.GIFTS_BOOKED, way="offline")
    db.session.rollback()
    assert counted() == start
    db.session.execute(sa.select(1))
    with db.session.begin_nested():
        metrics.count_on_commit(metrics.GIFTS_BOOKED, way="offline")
    metrics.count_on_commit(metrics.GIFTS_BOOKED, way="offline")
    assert counted() == start  # not yet: the transaction is still open
    db.session.commit()
    assert counted() == start + 2


def test_sign_in_failures_and_rate_limit_refusals_are_counted_without_who(client, fund, create_user):
    create_user("tina@example.org", "trustee")
    before = scrape(client)
    for _ in range(10):  # SIGN_INS_PER_ACCOUNT: ten tries of one address, then refused before the password is read
        assert client.post("/login", data={"email": "someone@example.org", "password": "wrong"}).status_code == 422
    assert client.post("/login", data={"email": "someone@example.org", "password": "wrong"}).status_code == 429
    assert client.post("/login", data={"email": "tina@example.org", "password": "correct horse battery"}
                       ).status_code == 302
    right = authenticator_code("tina@example.org")
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    assert client.post("/login/code", data={"code": wrong}).status_code == 422
    text = client.get("/metrics").get_data(as_text=True)
    after = parse(text)
    assert "example.org" not in text and "tina" not in text
    assert value(after, "fundapp_sign_in_failures_total", step="password") - value(
        before, "fundapp_sign_in_failures_total", step="password") == 10
    assert value(after, "fundapp_sign_in_failures_total", step="code") - value(
        before, "fundapp_sign_in_failures_total", step="code") == 1
    assert value(after, "fundapp_rate_limit_refusals_total", limit="sign-in-account") - value(
        before, "fundapp_rate_limit_refusals_total", limit="sign-in-account") == 1
    assert value(after, "fundapp_rate_limit_refusals_total", limit="sign-in") == value(
        before, "fundapp_rate_limit_refusals_total", limit="sign-in")


# --- the gauges -----------------------------------------------------------------------------------------------------


@pytest.fixture
def busy(app, fund, grants):
    """Money in (a cheque), a grant approved today and unpaid (a pace, so a runway), its receipt waiting in the
    outbox for an hour, a Stripe event waiting 90 seconds, and a worker that beat."""
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    today = clock.today(fund)
    offline.record_offline_gift(fund, name="Pat Giver", email="pat@example.org", amount_cents=400_000,
                                received_on=today, method="cheque")
    db.session.commit()
    grants(40_000, day=today)  # under the dual approval threshold: one trustee approves it
    db.session.execute(sa.update(OutboxMessage).values(created_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    assert post_event(app.test_client(), "customer.tax_id.created", {"id": "txi_2"}, "evt_waiting").status_code == 200
    db.session.execute(sa.update(StripeEvent).values(received_at=utcnow() - timedelta(seconds=90)))
    db.session.commit()
    return fund


def test_the_gauges_say_what_the_app_computes(client, busy):
    fund = busy
    assert value(scrape(client), "fundapp_worker_heartbeat_age_seconds") is None  # no worker has ever beaten
    health.beat("test-worker")
    found = scrape(client)
    dashboard = figures.dashboard(fund, clock.today(fund))
    healthy, report = health.check()
    assert dashboard.available_cents > 0 and dashboard.runs_dry_on is not None
    assert value(found, "fundapp_database_up") == 1
    assert value(found, "fundapp_available_to_grant_cents", fund=fund.slug) == dashboard.available_cents \
        == ledger.available_to_grant(fund)
    assert value(found, "fundapp_runway_date_timestamp_seconds", fund=fund.slug) == clock.start_of(
        fund, dashboard.runs_dry_on).timestamp()
    assert value(found, "fundapp_outbox_waiting") == report["outbox"]["waiting"] \
        == db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.sent_at.is_(None))) >= 1
    assert 3_600 <= value(found, "fundapp_outbox_oldest_age_seconds") < 3_700
    assert value(found, "fundapp_stripe_events_waiting") == report["stripe_events"]["waiting"] == 1
    assert 90 <= value(found, "fundapp_stripe_events_oldest_age_seconds") < 190
    assert 0 <= value(found, "fundapp_worker_heartbeat_age_seconds") <= 5


def test_no_grant_in_four_weeks_leaves_the_runway_out(client, fund):
    found = scrape(client)
    assert value(found, "fundapp_available_to_grant_cents", fund=fund.slug) == 0
    assert figures.dashboard(fund, clock.today(fund)).runs_dry_on is None
    assert not any(name == "fundapp_runway_date_timestamp_seconds" for name, _labels in found)


def test_a_database_that_does_not_answer_leaves_the_counters_served(fund):
    down = create_app(base_config("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                  SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}}))
    found = scrape(down.test_client())
    assert value(found, "fundapp_database_up") == 0
    assert value(found, "fundapp_outbox_waiting") is None
    assert value(found, "fundapp_gifts_booked_total", way="card") is not None


# --- the dashboard --------------------------------------------------------------------------------------------------


def test_the_grafana_dashboard_asks_only_for_what_a_scrape_serves_and_shows_it_all(client, busy):
    health.beat("test-worker")
    client.get("/")
    text = client.get("/metrics").get_data(as_text=True)
    served = {family.name for family in text_string_to_metric_families(text)}
    sampled = {name for name, _labels in parse(text)}
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    asked = {name for expr in expressions for name in re.findall(r"\bfundapp_[a-z_]+", expr)}
    assert asked and asked <= sampled, asked - sampled
    shown = {name for name in served if any(name == asked_name or asked_name.startswith(name + "_")
                                            for asked_name in asked)}
    assert shown == served, served - shown  # a panel for every metric


# --- under gunicorn -------------------------------------------------------------------------------------------------


def test_under_gunicorn_metrics_adds_up_every_worker_process(app, fund, database_url, tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {key: val for key, val in os.environ.items() if key != "METRICS_TOKEN"}
    env.update(PROMETHEUS_MULTIPROC_DIR=str(folder), DATABASE_URL=database_url, FUNDAPP_ENV="development",
               LOG_FORMAT="text")
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(  # nosec B603
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "--no-control-socket",
             "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120  # two workers importing the app on a busy machine
        while True:
            try:
                requests.get(base + "/healthz", timeout=10)
                break
            except requests.RequestException:  # not listening yet, or its workers still starting
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
        sent = 0
        with ThreadPoolExecutor(4) as pool:
            for _round in range(10):  # until both worker processes have answered some (almost always the first)
                answers = list(pool.map(lambda _n: requests.get(base + "/about", timeout=30).status_code, range(40)))
                assert answers == [200] * 40
                sent += 40
                if len(_processes_that_counted(folder, "/about")) >= 2:
                    break
        assert len(_processes_that_counted(folder, "/about")) == 2
        assert requests.get(base + "/metrics", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=10
                            ).status_code == 403
        response = requests.get(base + "/metrics", timeout=10)
        assert response.status_code == 200
        found = parse(response.text)
        assert value(found, "fundapp_http_requests_total", route="/about", method="GET", status="200") == sent
        assert value(found, "fundapp_http_request_duration_seconds_count", route="/about") == sent
        assert value(found, "fundapp_database_up") == 1
        assert value(found, "fundapp_available_to_grant_cents", fund=fund.slug) == 0
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]  # child_exit's bookkeeping included


def test_a_process_whose_metrics_folder_is_missing_says_so_and_counts_alone(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "not-made")}
    done = subprocess.run(  # nosec B603
        [str(ROOT / ".venv" / "bin" / "python"), "-c", "from fundapp import metrics; "
         "metrics.GIFTS_BOOKED.labels(way='card').inc(); print(metrics.multiprocess(), "
         "metrics.REGISTRY.get_sample_value('fundapp_gifts_booked_total', {'way': 'card'}))"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "1.0"]
    assert "not-made is not a writable folder: this process counts its metrics alone" in done.stderr
    assert not (tmp_path / "not-made").exists()


def _processes_that_counted(folder: Path, route: str) -> set[str]:
    """The process ids whose own counter file counts requests to ``route``."""
    found = set()
    for path in folder.glob("counter_*.db"):
        for family in MultiProcessCollector.merge([str(path)]):
            if any(sample.labels.get("route") == route and sample.value > 0 for sample in family.samples):
                found.add(path.stem.rsplit("_", 1)[1])
    return found
