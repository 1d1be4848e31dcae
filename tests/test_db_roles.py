"""Two PostgreSQL roles: the owner runs the migrations, the runtime role runs the app and cannot rewrite history.

The SQL is the one ``flask fund db-roles --print`` prints, run as the superuser the tests use. The tests
that need PostgreSQL are collected only in the PostgreSQL run (``FUNDAPP_TEST_DATABASE_URL``). Roles are
cluster-wide, so each run names its own with a random suffix and drops them at the end.
"""
from __future__ import annotations

import os
import subprocess  # nosec B404 # runs the flask command of this project, no shell
import sys
import uuid
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import flask_migrate
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from fundapp import create_app, init_migrations
from fundapp.config import ConfigError, normalise_database_url
from fundapp.db_roles import APPEND_ONLY_TABLES, READ_ONLY_TABLES, PrivilegedRole, runtime_privileges
from fundapp.extensions import db
from tests.conftest import base_config, drop_roles, make_pg_database, production_env

PG_SERVER = os.environ.get("FUNDAPP_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parent.parent
EVERY_PRIVILEGE = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def test_db_roles_prints_a_grant_for_every_table_of_the_models(runner):
    result = runner.invoke(args=["fund", "db-roles", "--print", "--database", "strike_fund"])
    assert result.exit_code == 0, result.output
    sql = result.output
    for table in db.metadata.sorted_tables:
        grant = f"GRANT {', '.join(runtime_privileges(table.name))} ON TABLE public.{table.name} TO fundapp_app;"
        assert grant in sql
    assert "GRANT SELECT, INSERT ON TABLE public.postings TO fundapp_app;" in sql
    assert "GRANT SELECT ON TABLE public.alembic_version TO fundapp_app;" in sql
    assert 'ALTER DATABASE "strike_fund" OWNER TO fundapp_owner;' in sql
    assert "ALTER DEFAULT PRIVILEGES FOR ROLE fundapp_owner IN SCHEMA public" in sql
    assert "TRUNCATE" not in sql.split("BEGIN;", 1)[1].replace("DELETE and TRUNCATE", "")
    # No password, real or made up, is ever part of the SQL: the operator sets it with \password.
    assert "PASSWORD '" not in sql.upper() and "\\password fundapp_app" in sql


def test_append_only_tables_are_tables_of_the_models():
    names = {table.name for table in db.metadata.sorted_tables}
    assert {"journal_entries", "postings", "audit_records"} <= APPEND_ONLY_TABLES <= names
    assert READ_ONLY_TABLES.isdisjoint(names)


@pytest.mark.parametrize("args, message", [
    ([], "pass --print"),
    (["--print", "--database", "f", "--owner-role", "Fund-Owner"], "not a plain role name"),
    (["--print", "--database", "f", "--owner-role", "x", "--runtime-role", "x"], "two different roles"),
])
def test_db_roles_refuses_what_it_cannot_print(runner, args, message):
    result = runner.invoke(args=["fund", "db-roles", *args])
    assert result.exit_code == 1 and message in result.output


def test_db_roles_takes_the_database_name_from_database_url(runner, database_url):
    result = runner.invoke(args=["fund", "db-roles", "--print"])
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "postgresql":
        assert result.exit_code == 0 and f'ALTER DATABASE "{url.database}" OWNER TO fundapp_owner;' in result.output
    else:
        assert result.exit_code == 1 and "not a PostgreSQL database: name it with --database" in result.output


if PG_SERVER:

    def _as_role(url: str, role: str) -> str:
        return sa.engine.make_url(url).set(username=role, password=None).render_as_string(hide_password=False)

    def _run_as_superuser(url: str, sql: str) -> None:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
        engine.dispose()

    def _printed_sql(url: str, owner: str, runtime: str) -> str:
        app = create_app(base_config(url))
        result = app.test_cli_runner().invoke(
            args=["fund", "db-roles", "--print", "--owner-role", owner, "--runtime-role", runtime])
        assert result.exit_code == 0, result.output
        with app.app_context():
            db.engine.dispose()
        return result.output

    def _migrate(url: str) -> None:
        app = create_app(base_config(url))
        init_migrations(app)
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()

    def _privileges(url: str, role: str) -> dict[str, tuple[str, ...]]:
        """What ``role`` may do on each table of the database."""
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            tables = conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()
            held = {table: tuple(p for p in EVERY_PRIVILEGE if conn.scalar(
                sa.text("SELECT has_table_privilege(:role, :table, :privilege)"),
                {"role": role, "table": f"public.{table}", "privilege": p})) for table in tables}
        engine.dispose()
        return held

    def _owners(url: str) -> set[str]:
        """Who owns the tables, sequences and functions of the public schema."""
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            owners = set(conn.scalars(sa.text(
                "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND relkind IN ('r', 'S') UNION SELECT pg_get_userbyid(proowner) FROM pg_proc "
                "WHERE pronamespace = 'public'::regnamespace")))
        engine.dispose()
        return owners

    def _expected() -> dict[str, tuple[str, ...]]:
        """The privilege matrix: what the runtime role may do on every table the migrations make."""
        import fundapp.models  # noqa: F401  (every table in the metadata)

        tables = [table.name for table in db.metadata.sorted_tables] + ["alembic_version"]
        return {table: runtime_privileges(table) for table in tables}

    @pytest.fixture(scope="module")
    def roles():
        """A new database set up as the deploy guide says: the printed SQL run by a superuser, then the
        real migrations run as the owner role."""
        server = normalise_database_url(PG_SERVER)
        suffix = uuid.uuid4().hex[:8]
        owner, runtime = f"fundapp_owner_{suffix}", f"fundapp_app_{suffix}"
        url, drop = make_pg_database(server)
        try:
            sql = _printed_sql(url, owner, runtime)
            _run_as_superuser(url, sql)
            _migrate(_as_role(url, owner))
            yield SimpleNamespace(url=url, owner=owner, runtime=runtime, sql=sql,
                                  owner_url=_as_role(url, owner), runtime_url=_as_role(url, runtime),
                                  after_upgrade=_privileges(url, runtime))
        finally:
            drop()  # first: the owner role owns the database
            drop_roles(server, owner, runtime)

    @pytest.fixture
    def runtime_app(roles):
        app = create_app(base_config(roles.runtime_url))
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()

    def test_after_the_migrations_the_runtime_role_only_appends_to_history(roles):
        """The default privileges open every new table to the runtime role; the migrations close the
        append-only ones again."""
        assert roles.after_upgrade == _expected()
        for table in APPEND_ONLY_TABLES:
            assert roles.after_upgrade[table] == ("SELECT", "INSERT")
        assert _owners(roles.url) == {roles.owner}

    def test_the_roles_can_do_their_jobs_and_no_more(roles):
        engine = sa.create_engine(roles.url)
        with engine.connect() as conn:
            found = conn.execute(sa.text(
                "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, rolcanlogin FROM pg_roles "
                "WHERE rolname IN (:owner, :runtime) ORDER BY rolname"),
                {"owner": roles.owner, "runtime": roles.runtime}).all()
            database_owner = conn.scalar(sa.text(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"))
            member = conn.scalar(sa.text("SELECT pg_has_role(:runtime, :owner, 'MEMBER')"),
                                 {"owner": roles.owner, "runtime": roles.runtime})
        engine.dispose()
        assert [tuple(row) for row in found] == [(roles.runtime, False, False, False, False, True),
                                                 (roles.owner, False, False, False, False, True)]
        assert database_owner == roles.owner and member is False

    def test_the_runtime_role_books_an_entry_with_its_audit_record(roles, runtime_app):
        from fundapp.audit.models import AuditRecord
        from fundapp.audit.services import verify_chain
        from fundapp.ledger import services as ledger
        from fundapp.setup import init_fund

        fund = init_fund(runtime_app.config["FUND_DEFAULTS"]).fund
        ledger.post_entry(fund, entry_date=date(2026, 11, 2), memo="gift", source_kind="test", source_id="1",
                          postings=[("Assets:Bank", 2500), ("Income:Donations", -2500)])
        db.session.commit()
        assert db.session.scalar(sa.text("SELECT current_user")) == roles.runtime
        assert ledger.balance(fund, "Assets:Bank") == 2500
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)) >= 1
        assert verify_chain().first_broken_id is None
        assert ledger.check_day_totals(fund) == []

    @pytest.mark.parametrize("statement", [
        "UPDATE postings SET amount_cents = amount_cents * 2",
        "DELETE FROM postings",
        "UPDATE journal_entries SET memo = 'rewritten'",
        "DELETE FROM audit_records",
        "UPDATE audit_records SET action = 'nothing happened'",
        "TRUNCATE audit_records",
        "TRUNCATE postings CASCADE",
        "ALTER TABLE postings DISABLE TRIGGER ALL",
        "DROP TABLE postings CASCADE",
        "DROP TABLE audit_records",
        "UPDATE fund_rules SET approvals_needed = 1",
        "DELETE FROM approvals",
        "UPDATE alembic_version SET version_num = '0001'",
        "CREATE TABLE shadow_books (id integer)",
    ])
    def test_the_runtime_role_cannot_rewrite_history(roles, runtime_app, statement):
        with db.engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT current_user")) == roles.runtime
            with pytest.raises(DBAPIError) as refused:
                conn.execute(sa.text(statement))
            conn.rollback()
        # 42501 insufficient_privilege ("permission denied", "must be owner"): refused by the grants,
        # before the ledger's triggers are even asked.
        assert refused.value.orig.sqlstate == "42501", refused.value

    def test_the_printed_sql_runs_twice_and_changes_nothing(roles):
        _run_as_superuser(roles.url, roles.sql)
        _run_as_superuser(roles.url, roles.sql)
        assert _privileges(roles.url, roles.runtime) == _expected()
        assert _owners(roles.url) == {roles.owner}

    def test_an_existing_installation_moves_to_the_two_roles(roles):
        """Migrated by one all-powerful role (the old guide), then the printed SQL: the owner owns it all
        and the runtime role has exactly its rights; later migrations run as the owner."""
        url, drop = make_pg_database(normalise_database_url(PG_SERVER))
        try:
            _migrate(url)  # as the superuser, as before
            _run_as_superuser(url, _printed_sql(url, roles.owner, roles.runtime))
            assert _owners(url) == {roles.owner}
            assert _privileges(url, roles.runtime) == _expected()
            app = create_app(base_config(_as_role(url, roles.owner)))
            init_migrations(app)
            with app.app_context():
                flask_migrate.downgrade(revision="0012")
                flask_migrate.upgrade()  # 0013 again, as the owner: its new tables get the runtime's rights
                db.engine.dispose()
            assert _privileges(url, roles.runtime) == _expected()
        finally:
            drop()

    # --- production refuses to serve as a role that could rewrite the books ----------------------------

    def test_production_refuses_to_start_as_a_superuser(roles, monkeypatch):
        production_env(monkeypatch, roles.url)  # as postgres
        with pytest.raises(ConfigError) as refused:
            create_app()
        message = str(refused.value)
        assert "the database role 'postgres' is a superuser" in message
        assert "runtime role (fundapp_app)" in message and "fund db-roles --print" in message

    def test_production_refuses_to_start_as_the_owner(roles, monkeypatch):
        production_env(monkeypatch, roles.owner_url)
        with pytest.raises(ConfigError) as refused:
            create_app()
        message = str(refused.value)
        assert f"the database role '{roles.owner}' owns (or is a member of the owner of) the app's tables" in message
        assert "run `flask db upgrade` as the owner role" in message

    def test_production_starts_as_the_runtime_role(roles, monkeypatch):
        production_env(monkeypatch, roles.runtime_url)
        app = create_app()
        with app.app_context():
            from fundapp import health

            health.beat("worker:1")  # as the worker does, as the runtime role
        response = app.test_client().get("/healthz", base_url="https://fund.example.org")
        assert response.status_code == 200 and response.get_json()["database"] == "ok", response.get_json()
        with app.app_context():
            db.engine.dispose()

    def test_a_runtime_role_that_can_act_as_the_owner_is_refused_until_the_script_revokes_it(roles, monkeypatch):
        _run_as_superuser(roles.url, f'GRANT "{roles.owner}" TO "{roles.runtime}"')
        try:
            production_env(monkeypatch, roles.runtime_url)
            with pytest.raises(ConfigError, match=f"'{roles.runtime}' owns \\(or is a member of the owner of\\)"):
                create_app()
            _run_as_superuser(roles.url, roles.sql)
            app = create_app()  # the script took the membership away
            with app.app_context():
                db.engine.dispose()
        finally:
            _run_as_superuser(roles.url, f'REVOKE "{roles.owner}" FROM "{roles.runtime}"')

    def test_production_checks_the_role_when_the_database_comes_up_after_the_start(monkeypatch, caplog):
        """A database that is not there at the start cannot be checked then: the app starts, and its first
        connection, made as the superuser once the database is up, is refused."""
        server = normalise_database_url(PG_SERVER)
        name = f"fundapp_test_{uuid.uuid4().hex[:10]}"
        production_env(monkeypatch, sa.engine.make_url(server).set(database=name).render_as_string(False))
        app = create_app()
        assert "Could not reach the database to check its role" in caplog.text
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            with app.app_context():
                with pytest.raises(PrivilegedRole, match="'postgres' is a superuser"):
                    db.session.execute(sa.text("SELECT 1"))
                db.session.remove()
                db.engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    def _flask(*args: str, url: str) -> subprocess.CompletedProcess:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("FUNDAPP_", "FLASK_"))}
        env.update(FUNDAPP_ENV="production", SECRET_KEY="x" * 48, DATABASE_URL=url, FUND_EIN="12-3456789",
                   FUND_CONTACT_EMAIL="fund@local7.example.org", REDIS_URL="redis://127.0.0.1:6379/15",
                   AUDIT_KEY="y" * 48, STRIPE_SECRET_KEY="sk_live_" + "k" * 24,
                   STRIPE_WEBHOOK_SECRET="whsec_" + "w" * 32, MAIL_TO_LOG="1")
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)  # nosec B603 # fixed arguments

    def test_production_migrates_as_the_owner_but_its_worker_refuses_the_owner(roles):
        upgrade = _flask("db", "upgrade", url=roles.owner_url)
        assert upgrade.returncode == 0, upgrade.stderr
        worker = _flask("fund", "worker", "--once", url=roles.owner_url)
        assert worker.returncode == 1
        assert f"the database role '{roles.owner}' owns" in worker.stderr
        worker = _flask("fund", "worker", "--once", url=roles.runtime_url)
        assert worker.returncode == 0, worker.stderr
