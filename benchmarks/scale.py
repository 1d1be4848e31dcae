"""Scale data for benchmarks: a year of a large strike, written by bulk inserts, with books that balance.

``seed_scale`` writes donors, settled card gifts (each with its Stripe fee), weekly
payouts, members, and paid grants (application, approval, payment) with every
journal entry and posting the services would have booked, in batches of BATCH rows
per table and one commit per batch (so PostgreSQL's balance triggers check each
batch as it lands). It bypasses the services on purpose, for speed: no audit
records, no mail, no receipt PDFs, and the grant caps are not applied. It refuses
a fund that already has books, and production.

It is not part of the app: run it as a script against the app's database, after
``flask --app wsgi fund create-user`` has made a trustee or treasurer (who decided
the grants)::

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/scale \\
        .venv/bin/python benchmarks/scale.py [--donations 1000000] [--grants 100000]

``bench.py`` and ``growth.py`` call ``seed_scale`` directly; tests/test_scale.py
invokes ``seed_scale_command``.
"""
from __future__ import annotations

import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import ScriptInfo, with_appcontext

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the app's package sits beside benchmarks/
    sys.path.insert(0, str(ROOT))

from fundapp import create_app, db_roles  # noqa: E402
from fundapp.accounts.models import Member, Role, RoleGrant, User  # noqa: E402
from fundapp.applications.models import Application  # noqa: E402
from fundapp.applications.services import current_rules  # noqa: E402
from fundapp.cli.base import fail, installed_fund  # noqa: E402
from fundapp.config import ConfigError  # noqa: E402
from fundapp.donations.models import Donation, Donor, ReceiptCounter  # noqa: E402
from fundapp.extensions import db  # noqa: E402
from fundapp.funds import clock as fund_clock  # noqa: E402
from fundapp.funds.models import Fund  # noqa: E402
from fundapp.ledger import services as ledger  # noqa: E402
from fundapp.ledger.models import JournalEntry, Posting  # noqa: E402
from fundapp.review.models import Approval, GrantPayment  # noqa: E402

BATCH = 20_000
DOMAIN = "scale.example.org"
CATEGORIES = ("rent", "utilities", "food", "medical", "childcare", "transportation")
WORKSITES = ("North Plant", "South Plant", "Distribution Centre", "Head Office", "Port Yard", "East Depot")


class ScaleRefused(RuntimeError):
    pass


@dataclass
class Ids:
    """The next free id of each table we write ids into (so postings can name their entry)."""

    entry: int
    donation: int
    application: int
    payment: int


def _next_id(model) -> int:
    return (db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1


def _insert(model, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys): COPY on PostgreSQL, a multi-row INSERT elsewhere."""
    if not rows:
        return
    if db.engine.dialect.name != "postgresql":
        db.session.execute(sa.insert(model), rows)
        return
    from psycopg import sql

    table = model.__table__
    # COPY skips the model's Python-side defaults (tokens, timestamps, flags): fill them in here.
    defaults = {column.name: column.default for column in table.columns
                if column.name not in rows[0] and column.default is not None}
    names = [*rows[0], *defaults]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table.name),
                                                         sql.SQL(", ").join(map(sql.Identifier, names)))
    with db.session.connection().connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            extra = [default.arg(None) if default.is_callable else default.arg for default in defaults.values()]
            copy.write_row([*row.values(), *extra])


def _at(day: date) -> datetime:
    return datetime.combine(day, clock(12), tzinfo=UTC)


def seed_scale(fund: Fund, *, donations: int, grants: int, today: date, seed: int = 11,
               progress: Callable[[str, int], None] = lambda what, n: None) -> dict[str, float]:
    """Fill an empty fund; returns seconds spent per part. ``progress(part, rows)`` after each batch."""
    try:
        return _seed(fund, donations, grants, today, seed, progress)
    finally:
        db.session.rollback()  # every finished batch is committed; an unfinished one is dropped
        _reset_sequences()  # even after a failure, the rows written so far must not block new ones
        ledger.rebuild_day_totals(fund)  # and balances must count them
        db.session.commit()


def _seed(fund: Fund, donations: int, grants: int, today: date, seed: int,
          progress: Callable[[str, int], None]) -> dict[str, float]:
    if db.session.scalar(sa.select(sa.func.count(JournalEntry.id)).where(JournalEntry.fund_id == fund.id)):
        raise ScaleRefused("this fund already has books; seed-scale fills an empty one")
    trustee = db.session.scalar(sa.select(User.id).join(RoleGrant, RoleGrant.user_id == User.id).where(
        RoleGrant.fund_id == fund.id, RoleGrant.role.in_([Role.TRUSTEE.value, Role.TREASURER.value])).limit(1))
    if trustee is None:
        raise ScaleRefused("the fund needs a trustee or treasurer first (create-user): someone decided the grants")
    rng = random.Random(seed)  # nosec B311 # made-up benchmark data, not security
    accounts = {name: account.id for name, account in ledger.chart(fund).items()}
    rules = current_rules(fund)
    db.session.commit()
    ids = Ids(_next_id(JournalEntry), _next_id(Donation), _next_id(Application), _next_id(GrantPayment))
    first_day = today - timedelta(days=364)
    timings: dict[str, float] = {}

    # -- donors and card gifts: Stripe holds the net, the fee is an expense, the gift is income ----------
    started = time.perf_counter()
    donor_count = max(donations // 8, 1)
    first_donor = _next_id(Donor)
    for start in range(0, donor_count, BATCH):
        _insert(Donor, [{"id": first_donor + n, "fund_id": fund.id, "email": f"donor{first_donor + n}@{DOMAIN}",
                         "name": f"Donor {first_donor + n}", "language": "es" if n % 5 == 0 else "en"}
                        for n in range(start, min(start + BATCH, donor_count))])
        db.session.commit()
    receipt_seq: dict[int, int] = defaultdict(int)
    for year, last in db.session.execute(sa.select(ReceiptCounter.year, ReceiptCounter.last)
                                         .where(ReceiptCounter.fund_id == fund.id)):
        receipt_seq[year] = last
    weekly_net: dict[date, int] = defaultdict(int)
    days = sorted(first_day + timedelta(days=rng.randrange(365)) for _ in range(donations))
    for start in range(0, donations, BATCH):
        gifts, entries, postings = [], [], []
        for n in range(start, min(start + BATCH, donations)):
            day = days[n]
            gross = rng.choice((1_000, 2_000, 2_500, 5_000, 10_000, 25_000)) + rng.choice((0, 0, 137, 500))
            fee = gross * 29 // 1000 + 30
            receipt_seq[day.year] += 1
            donation_id, entry_id = ids.donation, ids.entry
            ids.donation += 1
            ids.entry += 1
            gifts.append({"id": donation_id, "fund_id": fund.id, "donor_id": first_donor + rng.randrange(donor_count),
                          "status": "succeeded", "frequency": "monthly" if n % 7 == 0 else "one_time",
                          "origin": "app", "amount_cents": gross, "fee_cover_cents": 0, "currency": fund.currency,
                          "anonymous": n % 5 == 0, "method": "card", "stripe_charge_id": f"ch_scale_{donation_id}",
                          "gross_cents": gross, "fee_cents": fee, "net_cents": gross - fee, "refunded_cents": 0,
                          "received_on": day, "receipt_year": day.year, "receipt_seq": receipt_seq[day.year],
                          "settled_at": _at(day), "created_at": _at(day)})
            entries.append({"id": entry_id, "fund_id": fund.id, "entry_date": day, "source_kind": "stripe.charge",
                            "source_id": f"ch_scale_{donation_id}", "memo": f"Gift {day.year}-{receipt_seq[day.year]:06d}",
                            "created_at": _at(day)})
            postings += [{"entry_id": entry_id, "account_id": accounts["Assets:Stripe"], "amount_cents": gross - fee},
                         {"entry_id": entry_id, "account_id": accounts["Expenses:PaymentFees"], "amount_cents": fee},
                         {"entry_id": entry_id, "account_id": accounts["Income:Donations"], "amount_cents": -gross}]
            weekly_net[day - timedelta(days=day.weekday()) + timedelta(days=6)] += gross - fee
        _insert(Donation, gifts)
        _insert(JournalEntry, entries)
        _insert(Posting, postings)
        db.session.commit()
        progress("donations", len(gifts))
    for year, last in receipt_seq.items():
        counter = db.session.get(ReceiptCounter, (fund.id, year))
        if counter is None:
            db.session.add(ReceiptCounter(fund_id=fund.id, year=year, last=last))
        else:
            counter.last = last
    # Stripe pays the week's net out to the bank on Sunday (the current week stays at Stripe).
    payouts, payout_postings = [], []
    for sunday, net in sorted(weekly_net.items()):
        if sunday >= today or net <= 0:
            continue
        payouts.append({"id": ids.entry, "fund_id": fund.id, "entry_date": sunday, "source_kind": "stripe.payout",
                        "source_id": f"po_scale_{sunday.isoformat()}", "memo": "Stripe payout", "created_at": _at(sunday)})
        payout_postings += [{"entry_id": ids.entry, "account_id": accounts["Assets:Bank"], "amount_cents": net},
                            {"entry_id": ids.entry, "account_id": accounts["Assets:Stripe"], "amount_cents": -net}]
        ids.entry += 1
    _insert(JournalEntry, payouts)
    _insert(Posting, payout_postings)
    db.session.commit()
    timings["donations"] = time.perf_counter() - started

    # -- members (each with an account) and their paid grants --------------------------------------------
    started = time.perf_counter()
    member_count = max(grants // 10, 1)
    first_user, first_member = _next_id(User), _next_id(Member)
    password = "!scale-data-cannot-sign-in"  # nosec B105 # not an argon2 hash: no password ever matches it
    for start in range(0, member_count, BATCH):
        span = range(start, min(start + BATCH, member_count))
        _insert(User, [{"id": first_user + n, "email": f"striker{first_user + n}@{DOMAIN}",
                        "name": f"Striker {first_user + n}", "password_hash": password} for n in span])
        _insert(RoleGrant, [{"user_id": first_user + n, "fund_id": fund.id, "role": Role.APPLICANT.value} for n in span])
        _insert(Member, [{"id": first_member + n, "fund_id": fund.id, "member_id": f"S-{first_member + n}",
                          "first_name": "Striker", "last_name": str(first_member + n),
                          "worksite": WORKSITES[n % len(WORKSITES)], "unit": "Production", "on_strike": True,
                          "user_id": first_user + n} for n in span])
        db.session.commit()
    grant_days = sorted(first_day + timedelta(days=7 + rng.randrange(350)) for _ in range(grants))
    for start in range(0, grants, BATCH):
        applications, approvals, payments, entries, postings = [], [], [], [], []
        for n in range(start, min(start + BATCH, grants)):
            day = min(grant_days[n], today - timedelta(days=2))
            cents = rng.choice((10_000, 15_000, 20_000, 25_000, 30_000))
            member = rng.randrange(member_count)
            application_id = ids.application
            ids.application += 1
            applications.append({
                "id": application_id, "fund_id": fund.id, "applicant_id": first_user + member,
                "member_id": first_member + member, "rules_id": rules.id, "status": "paid",
                "category": CATEGORIES[n % len(CATEGORIES)], "amount_requested_cents": cents, "household_size": 3,
                "address": f"{member} Picket Line Rd", "payee_kind": "member", "need": "Rent and bills (scale data)",
                "attested": True, "amount_approved_cents": cents, "amount_paid_cents": cents,
                "submitted_at": _at(day - timedelta(days=1)), "created_at": _at(day - timedelta(days=1)),
                "updated_at": _at(day)})
            approvals.append({"application_id": application_id, "trustee_id": trustee, "amount_cents": cents,
                              "criteria": "scale data", "created_at": _at(day)})
            payment_id = ids.payment
            ids.payment += 1
            payments.append({"id": payment_id, "application_id": application_id, "amount_cents": cents, "method": "cheque",
                             "reference": str(100_000 + n), "paid_on": day + timedelta(days=1),
                             "payee_name": f"Striker {first_user + member}", "recorded_by_id": trustee,
                             "created_at": _at(day)})
            approved, paid = ids.entry, ids.entry + 1
            ids.entry += 2
            entries += [{"id": approved, "fund_id": fund.id, "entry_date": day, "source_kind": "grant.approval",
                         "source_id": str(application_id), "memo": f"Hardship grant approved, application {application_id}",
                         "created_at": _at(day)},
                        {"id": paid, "fund_id": fund.id, "entry_date": day + timedelta(days=1),
                         "source_kind": "grant.payment", "source_id": str(payment_id),
                         "memo": f"Grant payment, application {application_id}", "created_at": _at(day)}]
            postings += [{"entry_id": approved, "account_id": accounts["Expenses:HardshipGrants"], "amount_cents": cents},
                         {"entry_id": approved, "account_id": accounts["Liabilities:GrantsPayable"], "amount_cents": -cents},
                         {"entry_id": paid, "account_id": accounts["Liabilities:GrantsPayable"], "amount_cents": cents},
                         {"entry_id": paid, "account_id": accounts["Assets:Bank"], "amount_cents": -cents}]
        _insert(Application, applications)
        _insert(Approval, approvals)
        _insert(GrantPayment, payments)
        _insert(JournalEntry, entries)
        _insert(Posting, postings)
        db.session.commit()
        progress("grants", len(applications))
    timings["grants"] = time.perf_counter() - started
    return timings  # the caller's ``finally`` rebuilds the day totals: the bulk rows went around post_entry


def _reset_sequences() -> None:
    """PostgreSQL hands out ids from sequences, which explicit ids do not move: move them past our rows."""
    if db.engine.dialect.name != "postgresql":
        return
    for model in (JournalEntry, Donation, Donor, Application, GrantPayment, User, Member):
        highest = sa.select(sa.func.coalesce(sa.func.max(model.id), 1)).scalar_subquery()
        db.session.execute(sa.select(sa.func.setval(sa.func.pg_get_serial_sequence(model.__tablename__, "id"),
                                                    highest)))


@click.command("seed-scale")
@click.option("--donations", type=click.IntRange(1), default=1_000_000, show_default=True)
@click.option("--grants", type=click.IntRange(1), default=100_000, show_default=True)
@with_appcontext
def seed_scale_command(donations, grants):
    """Fill an empty fund with a year of a large strike, by bulk inserts, for benchmarks (no audit records,
    no mail; the books balance). Needs a trustee or treasurer (create-user); refuses production, and (as the
    ``fund`` commands do) a database role that could rewrite the books."""
    try:
        db_roles.guard_database_role(current_app._get_current_object())
    except ConfigError as exc:
        fail(str(exc))
    if current_app.config["ENV_NAME"] == "production":
        fail("seed-scale writes made-up data and refuses to run in production.")
    with click.progressbar(length=donations + grants, label="Scale data", show_pos=True) as bar:
        try:
            fund = installed_fund()
            timings = seed_scale(fund, donations=donations, grants=grants, today=fund_clock.today(fund),
                                 progress=lambda _part, rows: bar.update(rows))
        except ScaleRefused as exc:
            fail(str(exc))
    click.echo(f"Wrote {donations:,} donations in {timings['donations']:.1f} s and {grants:,} paid grants in "
               f"{timings['grants']:.1f} s.")


if __name__ == "__main__":
    seed_scale_command(obj=ScriptInfo(create_app=create_app))
