"""What ``/metrics`` tells Prometheus: counters and a latency histogram each process keeps, and the gauges read
from the database when it is scraped (``fundapp.main.gauges``).

Under gunicorn every process counts in its own memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus_client's multiprocess mode, which it chooses when it is first imported: the variable must be in the
process's environment from its start, as deploy/systemd and ``make serve`` set it), and ``/metrics`` adds up every
file there: the other gunicorn workers', and the ``fund worker``'s on the same host, so the Stripe events it applies
and the gifts it books count too. Without the variable a process counts in its memory and ``/metrics`` shows that
process alone (``make run``, the tests).

Labels are few and bounded, and nothing personal is a label or a value: a request is counted by its route's rule
(``/thanks/<token>``, never the path, which carries tokens and would make a series of every path a scan tries;
``unmatched`` when no route matched), its method (an unknown one is ``other``) and its status; a rate-limit refusal
by the limit's scope in ``throttle.LIMITS``. What a transaction books is counted when it commits
(``count_on_commit``), so a booking rolled back and tried again counts once.

Who may read them (``allowed``): with ``METRICS_TOKEN`` set, a request carrying ``Authorization: Bearer`` and that
token; without it, a request whose direct peer is this machine (loopback) and that no proxy passed on (no
``X-Forwarded-For``, which the TLS proxy adds to every request). Anyone else gets 403: the path is no secret (it is
in the source), and a 403 tells an operator whose scrape fails that access, not the address, is wrong.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time

import sqlalchemy as sa
from flask import Flask, Request, Response, current_app, g, request
from sqlalchemy.orm import Session, SessionTransaction

from fundapp.extensions import db

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
_configured_dir = os.environ.get(MULTIPROCESS_DIR)
if _configured_dir and not (os.path.isdir(_configured_dir) and os.access(_configured_dir, os.W_OK | os.X_OK)):
    # prometheus_client would fail at the first count; a process must not die of its metrics.
    logging.getLogger(__name__).warning("%s=%s is not a writable folder: this process counts its metrics alone",
                                        MULTIPROCESS_DIR, _configured_dir)
    del os.environ[MULTIPROCESS_DIR]

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

disable_created_metrics()  # no *_created series: multiprocess mode has none, so one process alone shows none either
#: This process's own metrics (not prometheus_client's global registry, which other libraries may fill).
REGISTRY = CollectorRegistry()
#: What ``exposition`` writes: the classic text format (names and labels in plain ASCII).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Headers a proxy adds to what it passes on: a request carrying one came from outside through the proxy.
FORWARDED_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")

REQUESTS = Counter("fundapp_http_requests", "Requests answered, by route (the URL rule), method and status",
                   ["route", "method", "status"], registry=REGISTRY)
REQUEST_SECONDS = Histogram("fundapp_http_request_duration_seconds", "Time to answer a request, by route",
                            ["route"], registry=REGISTRY,
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
STRIPE_EVENTS_STORED = Counter("fundapp_stripe_events_stored", "Stripe events the webhook verified and stored "
                               "(a re-delivery of a stored event is not counted)", registry=REGISTRY)
STRIPE_EVENTS_APPLIED = Counter("fundapp_stripe_events_applied", "Stripe events the worker finished, by outcome: "
                                "applied (booked what it says) or ignored (a type fundapp does not read)",
                                ["outcome"], registry=REGISTRY)
STRIPE_EVENTS_FAILED = Counter("fundapp_stripe_events_failed", "Tries at a Stripe event that failed (it is tried "
                               "again later, or waits on the treasurer's page)", registry=REGISTRY)
GIFTS_BOOKED = Counter("fundapp_gifts_booked", "Gifts booked in the books, by way: card (a Stripe charge) or "
                       "offline (a cheque or cash the treasurer recorded)", ["way"], registry=REGISTRY)
SIGN_IN_FAILURES = Counter("fundapp_sign_in_failures", "Sign-ins refused, by step: password (a wrong email "
                           "address or password) or code (a wrong second-factor code)", ["step"], registry=REGISTRY)
RATE_LIMIT_REFUSALS = Counter("fundapp_rate_limit_refusals", "Requests refused with 429, by limit (its scope in "
                              "fundapp/throttle.py)", ["limit"], registry=REGISTRY)
for _outcome in ("applied", "ignored"):  # every known series starts at 0, so rate() sees the first one
    STRIPE_EVENTS_APPLIED.labels(outcome=_outcome)
for _way in ("card", "offline"):
    GIFTS_BOOKED.labels(way=_way)
for _step in ("password", "code"):
    SIGN_IN_FAILURES.labels(step=_step)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR))


def exposition(*collectors: Collector) -> bytes:
    """The text Prometheus reads: the counts (every process's, in multiprocess mode) and ``collectors``."""
    registry = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


# --- counting what a transaction did, when it commits ---------------------------------------------------------------

_PENDING = "fundapp.metrics.pending"


def count_on_commit(counter: Counter, **labels: str) -> None:
    """Add one to ``counter`` when the database session's transaction commits; nothing if it (or the savepoint
    open now) rolls back."""
    session = db.session()
    transaction = session.get_nested_transaction() or session.get_transaction()
    series = counter.labels(**labels) if labels else counter
    if transaction is None:
        series.inc()
        return
    session.info.setdefault(_PENDING, []).append((transaction, series))


@sa.event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    if session.get_nested_transaction() is not None:  # a savepoint released: its counts wait for the transaction
        return
    for _transaction, series in session.info.pop(_PENDING, []):
        series.inc()


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    # A failed flush rolls back its own inner transaction, and with it the savepoint (or the transaction) around
    # it: the database's rollback reaches that far, and no second event says so.
    rolled_back: SessionTransaction = previous_transaction
    while rolled_back.parent is not None and not rolled_back.nested:
        rolled_back = rolled_back.parent
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [(transaction, series) for transaction, series in pending
                                  if not _inside(transaction, rolled_back)]


def _inside(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


# --- requests, and who may read ---------------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Count every request by route, method and status, and time it (from the clock ``logs`` starts)."""

    @app.after_request
    def count_request(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else UNMATCHED
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(route=route, method=method, status=str(response.status_code)).inc()
        started = g.get("request_started")
        if started is not None:
            REQUEST_SECONDS.labels(route=route).observe(time.perf_counter() - started)
        return response


def allowed(req: Request) -> bool:
    """Whether ``req`` may read the metrics (see the module's docstring)."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, given = req.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    # Behind TRUSTED_PROXIES, ProxyFix put the visitor's address in REMOTE_ADDR and kept the peer's here.
    peer = req.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR", req.environ.get("REMOTE_ADDR"))
    return _loopback(peer) and not any(header in req.headers for header in FORWARDED_HEADERS)


def _loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:  # a Unix socket's peer has no address
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback

