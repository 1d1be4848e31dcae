"""Flask extensions, created unbound and attached in ``create_app`` with ``init_app``; Flask-Migrate only when
the migrations are run (``fundapp.init_migrations``)."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

#: Stable constraint names, so Alembic migrations match on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def insert_or_merge(model):
    """An INSERT that can say what to do ON CONFLICT (PostgreSQL and SQLite share the syntax)."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def begin_write() -> None:
    """Take the database's write lock now, before the session's next writes (a no-op on PostgreSQL, which
    locks rows, and when this transaction already writes).

    SQLite lets one connection write at a time. A transaction that starts with reads and writes later (a
    SAVEPOINT, or pysqlite's own deferred BEGIN) may be refused at once with "database is locked" when another
    connection writes meanwhile, whatever busy_timeout says; ``BEGIN IMMEDIATE`` waits up to busy_timeout for
    the lock instead. Call it just before a short write, after the slow reading (PDFs, mail) is done.
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite keeps no zone, PostgreSQL does; this type makes both return the same.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
