"""`make serve` as an operator runs it: PostgreSQL made and migrated, gunicorn, a worker and the local Stripe server as
processes of their own under honcho; /healthz answers ok (the worker's heartbeat included), a page serves, a gift
paid through the local Stripe server is booked by the worker process (gunicorn runs no worker) and counted on
gunicorn's /metrics (the processes share PROMETHEUS_MULTIPROC_DIR), the log is JSON
without the donor's email or name, and Ctrl-C (SIGINT to the terminal's process group) leaves no process behind."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess  # nosec B404 # the test starts `make serve` itself
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from fundapp.config import normalise_database_url
from tests.conftest import free_port
from tests.processes import alive, descendants, wait_until

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("FUNDAPP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DONOR_EMAIL = "serve-smoke-donor@example.org"
DONOR_NAME = "Sam Servetest"


def _postgres_or_skip() -> sa.engine.URL:
    url = sa.engine.make_url(normalise_database_url(SERVER_URL))
    try:
        engine = sa.create_engine(url.set(database="postgres"), connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL is not reachable at {url.render_as_string(hide_password=True)}: {exc.orig}")
        pytest.skip("make serve needs PostgreSQL at 127.0.0.1 (not reachable here)")
    return url


def _field(html: str, name: str) -> str:
    return re.search(rf'name="{name}"[^>]*value="([^"]*)"', html).group(1)


def test_make_serve_runs_the_production_shape_and_stops_on_ctrl_c(tmp_path):
    server = _postgres_or_skip()
    database = f"fundapp_serve_{uuid.uuid4().hex[:8]}"
    database_url = server.set(database=database).render_as_string(hide_password=False)
    port, stripe_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    # The install step (.venv/.dev) is taken as done: this runs the serve recipe, not pip.
    command = ["make", "--no-print-directory", "-o", ".venv/.dev", "-o", ".venv/.runtime", "serve",
               f"SERVE_DATABASE_URL={database_url.replace('+psycopg', '')}", f"SERVE_PORT={port}",
               f"SERVE_STRIPE_PORT={stripe_port}"]
    with log.open("wb") as out:
        make = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,  # nosec B603
                                start_new_session=True)  # its own process group, as a terminal's foreground job
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        def healthy():
            try:
                answer = requests.get(base + "/healthz", timeout=10)
            except requests.RequestException:  # not listening yet, or a worker still starting
                assert make.poll() is None, f"make serve ended early:\n{log.read_text()[-4000:]}"
                return None
            return answer.json() if answer.status_code == 200 else None

        health = wait_until(healthy, "/healthz did not answer ok", 240, interval=0.5, log=log)
        assert health["status"] == "ok" and health["worker"]["status"] == "ok" and health["database"] == "ok"
        text = log.read_text()
        assert f"at {base}" in text and "treasurer@demo.example.org" in text  # the address and the demo sign-ins

        home = requests.get(base + "/", timeout=10)
        assert home.status_code == 200 and "Strike Hardship Fund" in home.text
        assert len(home.headers["X-Request-ID"]) == 32

        donor = requests.Session()
        form = donor.get(base + "/donate", timeout=10).text
        to_checkout = donor.post(base + "/donate", timeout=10, allow_redirects=False, data={
            "csrf_token": _field(form, "csrf_token"), "amount": "2500", "frequency": "one_time",
            "name": DONOR_NAME, "email": DONOR_EMAIL})
        assert to_checkout.status_code == 302, to_checkout.text
        checkout_url = base + to_checkout.headers["Location"].removeprefix(base)
        token = checkout_url.rsplit("/", 1)[1]
        checkout = donor.get(checkout_url, timeout=10).text
        paid = donor.post(checkout_url, timeout=30, allow_redirects=False, data={
            "csrf_token": _field(checkout, "csrf_token"), "attempt": _field(checkout, "attempt"),
            "card_number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123"})
        assert paid.status_code == 302 and f"/thanks/{token}" in paid.headers["Location"], paid.text

        def booked():
            return donor.get(f"{base}/thanks/{token}/status", timeout=5).json()["status"] == "succeeded"

        wait_until(booked, "the gift was not booked", 60, interval=0.5, log=log)
        # /metrics on gunicorn adds up every process's counts: the worker process booked the gift
        scraped = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                   for family in text_string_to_metric_families(requests.get(base + "/metrics", timeout=10).text)
                   for sample in family.samples}
        assert scraped[("fundapp_gifts_booked_total", (("way", "card"),))] == 1
        assert scraped[("fundapp_stripe_events_stored_total", ())] >= 1
        assert scraped[("fundapp_stripe_events_applied_total", (("outcome", "applied"),))] >= 1
        assert scraped[("fundapp_http_requests_total", (("method", "POST"), ("route", "/donate"),
                                                        ("status", "302")))] == 1
        worker_pid = int(re.search(rb"worker\.1 started \(pid=(\d+)\)", log.read_bytes()).group(1))
        engine = sa.create_engine(database_url)
        with engine.connect() as conn:
            charges = conn.scalar(sa.text("SELECT count(*) FROM journal_entries je JOIN donations d "
                                          "ON je.source_id = d.stripe_charge_id WHERE je.source_kind = 'stripe.charge' "
                                          "AND d.token = :token"), {"token": token})
            workers = conn.scalars(sa.text("SELECT worker FROM worker_heartbeats")).all()
        engine.dispose()
        assert charges == 1
        worker_process = {worker_pid} | descendants(worker_pid)  # honcho's worker.1 (a shell running flask)
        assert len(workers) == 1 and int(workers[0].rsplit(":", 1)[1]) in worker_process

        children = descendants(make.pid)
        assert len(children) >= 5  # honcho, gunicorn and its workers, the worker, the local Stripe server
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C
        make.wait(60)
        wait_until(lambda: not any(alive(pid) for pid in children), "processes were left after Ctrl-C", 30,
                   interval=0.5, log=log)

        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        requests_logged = [line for line in lines if line["logger"] == "fundapp.request"]
        assert {"/healthz", "/donate", "/thanks/<token>/status"} <= {line["route"] for line in requests_logged}
        assert all(line["request_id"] and line["status"] and line["fund"] == "hardship-fund"
                   for line in requests_logged)
        assert any(line["message"].startswith("Mail (no MAIL_SERVER set)") for line in lines)  # the receipt
        text = log.read_text()
        assert DONOR_EMAIL not in text and DONOR_NAME not in text and token not in text
    finally:
        if make.poll() is None:  # the test failed midway: leave nothing running, honcho's children included
            left = descendants(make.pid)
            os.killpg(make.pid, signal.SIGKILL)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            make.wait(10)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
