"""The gauges ``/metrics`` reads from the database at each scrape: what waits (Stripe events, mail), how long since
a worker beat, and per fund the money available to grant and the day it runs out.

They are the database's, not a process's, so every host reports the same values (a dashboard takes their ``max``).
A scrape reads a few small rows and writes nothing: on PostgreSQL its transaction is READ ONLY, so the database
itself would refuse a write, and it ends in a rollback. When the database does not answer, ``fundapp_database_up``
is 0 and the other gauges are left out; the counters of ``fundapp.metrics`` are still served.

The runway is ``reporting.figures.runway``, the dashboard's: the day the money available to grant runs out if grants
go on at the last four weeks' pace and no gift comes. It is given as the Unix time that day begins in the fund's time
zone (``fundapp_runway_date_timestamp_seconds``: a dashboard shows it as a date, an alert compares it with
``time()``); while no grant was made in those four weeks there is no such day, and the series is left out.
"""
from __future__ import annotations

from collections.abc import Iterator

from flask import current_app
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import SQLAlchemyError

from fundapp import health
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.models import Fund, FundNotInitialised
from fundapp.ledger import services as ledger
from fundapp.reporting.figures import PACE_DAYS, pace, runway


class DatabaseGauges:
    """A prometheus_client collector: one short read-only pass over the database per scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("fundapp_database_up", "1 when the database answered this scrape, else 0")
        try:
            families = self._read()
        except SQLAlchemyError as exc:
            current_app.logger.warning("metrics: the database did not answer: %s", type(exc).__name__)
            families = []
        finally:
            db.session.rollback()
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families

    def _read(self) -> list[GaugeMetricFamily]:
        if db.session.get_bind().dialect.name == "postgresql":
            db.session.execute(db.text("SET TRANSACTION READ ONLY"))
        found = health.backlogs()
        events = GaugeMetricFamily("fundapp_stripe_events_waiting", "Stripe events stored and not yet applied "
                                   "(those that gave up included: they wait on the treasurer's page)")
        events.add_metric([], found.events_waiting)
        events_age = GaugeMetricFamily("fundapp_stripe_events_oldest_age_seconds", "Seconds the oldest Stripe event "
                                       "not yet applied has waited (0: none waits)")
        events_age.add_metric([], health.seconds_since(found.events_oldest) if found.events_oldest else 0)
        outbox = GaugeMetricFamily("fundapp_outbox_waiting", "Mail messages waiting to be sent (not those given up on)")
        outbox.add_metric([], found.outbox_waiting)
        outbox_age = GaugeMetricFamily("fundapp_outbox_oldest_age_seconds", "Seconds the oldest message waiting to be "
                                       "sent has waited (0: none waits)")
        outbox_age.add_metric([], health.seconds_since(found.outbox_oldest) if found.outbox_oldest else 0)
        heartbeat = GaugeMetricFamily("fundapp_worker_heartbeat_age_seconds", "Seconds since a worker last beat "
                                      "(workers beat every 15 s; absent when no worker beat in the last day)")
        if found.last_beat is not None:
            heartbeat.add_metric([], health.seconds_since(found.last_beat))
        available = GaugeMetricFamily("fundapp_available_to_grant_cents", "Money available to grant, in cents: cash "
                                      "less grants approved and unpaid, less the reserve", labels=["fund"])
        runs_dry = GaugeMetricFamily("fundapp_runway_date_timestamp_seconds", "When the day begins that the money "
                                     "available runs out at the last four weeks' pace of grants, with no new gift "
                                     "(absent: no grant in four weeks)", labels=["fund"])
        for fund in db.session.scalars(db.select(Fund).order_by(Fund.slug)):
            today = clock.today(fund)
            try:
                cents = ledger.available_to_grant(fund, today)
                day = runway(cents, pace(fund, today), PACE_DAYS, today)
            except FundNotInitialised:  # its chart of accounts is not made yet (`fund init`)
                continue
            available.add_metric([fund.slug], cents)
            if day is not None:
                runs_dry.add_metric([fund.slug], clock.start_of(fund, day).timestamp())
        return [events, events_age, outbox, outbox_age, heartbeat, available, runs_dry]
