"""The migrations build the schema on an empty database, match the models, and undo cleanly."""
from __future__ import annotations

import os

import flask_migrate
import pytest
import sqlalchemy as sa

from fundapp import create_app
from fundapp.config import normalise_database_url
from fundapp.extensions import db
from tests.conftest import base_config, make_pg_database


PG_SERVER = os.environ.get("FUNDAPP_TEST_DATABASE_URL")


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


def test_check_notices_a_model_the_migrations_lack(empty_database):
    app = create_app(base_config(empty_database))
    extra = sa.Table("not_migrated", db.metadata, sa.Column("id", sa.Integer, primary_key=True))
    try:
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()
        result = app.test_cli_runner().invoke(args=["db", "check"])
        assert result.exit_code != 0
    finally:
        db.metadata.remove(extra)
