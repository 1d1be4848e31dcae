"""The migrations build the schema on an empty database, match the models, and undo cleanly."""
from __future__ import annotations

import os
import subprocess  # nosec B404 # runs the flask command of this project, no shell
import sys
from datetime import UTC
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa

from fundapp import create_app, init_migrations
from fundapp.config import normalise_database_url
from fundapp.extensions import db
from tests.conftest import base_config, make_pg_database

PG_SERVER = os.environ.get("FUNDAPP_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parent.parent


# SQLite always; PostgreSQL in the run that has a server (make test runs both).
@pytest.fixture(params=["sqlite", "postgresql"] if PG_SERVER else ["sqlite"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path / "empty.sqlite3")
        return
    url, drop = make_pg_database(normalise_database_url(PG_SERVER))
    yield url
    drop()


def test_upgrade_on_empty_database_then_check_finds_nothing(empty_database):
    app = create_app(base_config(empty_database))
    init_migrations(app)
    with app.app_context():
        flask_migrate.upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"funds", "users", "role_grants", "members", "audit_records", "outbox_messages",
                "alembic_version"} <= tables
        db.engine.dispose()
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        flask_migrate.downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_flask_db_upgrade_from_the_command_line_sets_up_flask_migrate_when_asked(tmp_path):
    """``create_app`` leaves Flask-Migrate (and Alembic) out; ``flask db`` brings it in for itself."""
    env = dict(os.environ, DATABASE_URL="sqlite:///" + str(tmp_path / "new.sqlite3"), PYTHONPATH=str(ROOT))

    def flask(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)  # nosec B603 # fixed arguments

    upgraded = flask("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]
    current = flask("db", "current")
    assert current.returncode == 0 and "(head)" in current.stdout, current.stdout + current.stderr[-2000:]
    listed = flask("--help")
    assert " db " in listed.stdout and " fund " in listed.stdout


def test_check_notices_a_model_the_migrations_lack(empty_database):
    app = create_app(base_config(empty_database))
    init_migrations(app)
    extra = sa.Table("not_migrated", db.metadata, sa.Column("id", sa.Integer, primary_key=True))
    try:
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()
        result = app.test_cli_runner().invoke(args=["db", "check"])
        assert result.exit_code != 0
    finally:
        db.metadata.remove(extra)


def fund_as_of_then(defaults: dict):
    """Insert the fund with the columns the table has at this revision (the Fund model has more since);
    returns a stand-in carrying its id, which is all the ledger's chart needs."""
    from types import SimpleNamespace

    from fundapp.extensions import utcnow

    funds = sa.Table("funds", sa.MetaData(), autoload_with=db.engine)
    row = {**defaults, "reserve_cents": 0, "is_demo": False, "created_at": utcnow()}
    fund_id = db.session.execute(funds.insert().values(
        {name: value for name, value in row.items() if name in funds.c}).returning(funds.c.id)).scalar_one()
    return SimpleNamespace(id=fund_id)


def test_the_day_totals_migration_fills_them_from_books_posted_before_it(empty_database):
    from datetime import date

    from fundapp.funds.services import get_or_create_fund
    from fundapp.ledger import services as ledger

    app = create_app(base_config(empty_database))
    init_migrations(app)
    with app.app_context():
        flask_migrate.upgrade(revision="0008")
        fund = fund_as_of_then(app.config["FUND_DEFAULTS"])
        ledger.open_chart(fund)  # what `fund init` does
        accounts = {row.name: row.id for row in db.session.execute(sa.text("SELECT id, name FROM ledger_accounts"))}
        db.session.commit()
        for n, (day, cents) in enumerate([(date(2026, 10, 1), 5_000), (date(2026, 10, 1), 2_500),
                                          (date(2026, 10, 3), 700)], start=1):
            db.session.execute(sa.text("INSERT INTO journal_entries (id, fund_id, entry_date, memo, source_kind, "
                                       "source_id, created_at) VALUES (:n, :f, :d, 'gift', 't', :s, :d)"),
                               {"n": n, "f": fund.id, "d": day, "s": str(n)})
            db.session.execute(sa.text("INSERT INTO postings (entry_id, account_id, amount_cents) VALUES "
                                       "(:n, :bank, :c), (:n, :gifts, :m)"),
                               {"n": n, "bank": accounts["Assets:Bank"], "gifts": accounts["Income:Donations"],
                                "c": cents, "m": -cents})
        db.session.commit()
        flask_migrate.upgrade()
        fund = get_or_create_fund(app.config["FUND_DEFAULTS"])
        assert ledger.check_day_totals(fund) == []
        assert ledger.balance(fund, "Assets:Bank") == 8_200 and ledger.balance(fund, "Assets:Bank", date(2026, 10, 2)) == 7_500
        assert ledger.count_entries_crediting(fund, "Income:Donations") == 3
        db.session.remove()
        db.engine.dispose()


def test_the_event_queue_migration_marks_events_stored_before_it_as_done(empty_database):
    """Before 0010 an event was applied in the request that stored it: the worker must not apply it again."""
    from fundapp.donations import events

    app = create_app(base_config(empty_database))
    init_migrations(app)
    with app.app_context():
        flask_migrate.upgrade(revision="0009")
        db.session.execute(sa.text("INSERT INTO stripe_events (id, type, payload, received_at) VALUES "
                                   "('evt_old', 'charge.succeeded', '{}', CURRENT_TIMESTAMP)"))
        db.session.commit()
        flask_migrate.upgrade()
        assert events.waiting_events() == (0, [])
        assert events.apply_waiting_events().total == 0
        db.session.remove()
        db.engine.dispose()


def test_migrations_that_rebuild_tables_keep_the_rows_other_tables_point_at(empty_database):
    """On SQLite a new CHECK rebuilds its table (copy, drop, rename), which foreign keys refuse while rows of
    other tables point at it: a database with data at 0013 (applications with approvals and payments, gifts)
    upgrades to the newest revision with every row and reference kept."""
    from datetime import date, datetime

    app = create_app(base_config(empty_database))
    init_migrations(app)
    with app.app_context():
        flask_migrate.upgrade(revision="0013")
        tables = sa.MetaData()
        tables.reflect(bind=db.engine)
        made: dict[str, int] = {}

        def filled(table: sa.Table) -> dict:
            """One row with a plain value in every column that needs one, pointing at the rows made so far."""
            row = {}
            for column in table.columns:
                if column.primary_key or (column.nullable and not column.foreign_keys):
                    continue
                if column.foreign_keys:
                    parent = next(iter(column.foreign_keys)).column.table.name
                    if parent in made:
                        row[column.name] = made[parent]
                    continue
                kind = column.type.python_type if not isinstance(column.type, sa.JSON) else dict
                row[column.name] = {int: 1, str: "x", bool: False, date: date(2026, 11, 2), dict: {},
                                    datetime: datetime(2026, 11, 2, tzinfo=UTC)}.get(kind, "x")
            return row

        for name in ("funds", "users", "members", "fund_rules", "applications", "approvals", "grant_payments",
                     "donors", "donations"):
            row = {**filled(tables.tables[name]), **({"amount_approved_cents": 1} if name == "applications" else {})}
            made[name] = db.session.execute(tables.tables[name].insert().values(row)
                                            .returning(tables.tables[name].c.id)).scalar_one()
        db.session.commit()
        flask_migrate.upgrade()
        for name, row_id in made.items():
            assert db.session.execute(sa.text(f"SELECT count(*) FROM {name} WHERE id = :i"), {"i": row_id}).scalar() == 1
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(sa.text("PRAGMA foreign_key_check")).fetchall() == []
            assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1  # back on for the app
        db.session.remove()
        db.engine.dispose()
