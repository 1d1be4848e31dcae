"""Least privilege on PostgreSQL: an owner role for migrations, a runtime role for the app.

The owner (``fundapp_owner``) owns the schema, every table, sequence and the ledger's trigger
functions; only ``flask db upgrade`` (and ``fund restore``) connect as it. The runtime role
(``fundapp_app``) is what gunicorn, the worker and the cron commands connect as: it reads and writes
rows, but it owns nothing, so it cannot ALTER, DROP or TRUNCATE a table or DISABLE TRIGGER on the
ledger, and on the append-only tables it may only SELECT and INSERT. The privileges come from
``runtime_privileges``, the one place that says what the app may do to each table.

``roles_sql`` is the SQL a superuser runs (``flask --app wsgi fund db-roles --print``); it is
idempotent. ``append_only_sql`` is run by every migration on PostgreSQL (``migrations/env.py``), so a
table created by a later migration, which the default privileges open to the runtime role, is closed
again at once if its name is in ``APPEND_ONLY_TABLES``. ``guard_database_role`` makes a serving process
refuse, in production, to connect as a role that could rewrite the books.
"""
from __future__ import annotations

import re

import sqlalchemy as sa

OWNER_ROLE = "fundapp_owner"
RUNTIME_ROLE = "fundapp_app"

#: Tables whose rows are history: posted once, never changed or deleted (a correction is a new row).
#: The runtime role may only SELECT and INSERT on them. A new append-only table goes here.
APPEND_ONLY_TABLES = frozenset({
    "journal_entries",  # the books: a correction is a reversing entry
    "postings",
    "audit_records",  # the hash-chained audit trail
    "fund_rules",  # each decision records the version of the rules it applied
    "approvals",  # who approved what amount, as it was approved
    "statements_sent",  # which donors have their year-end statement: never mailed twice
})
#: Tables the runtime role only reads (Alembic's record of the schema's revision, read by backups).
READ_ONLY_TABLES = frozenset({"alembic_version"})

READ_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")
APPEND = ("SELECT", "INSERT")
READ = ("SELECT",)

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def runtime_privileges(table: str) -> tuple[str, ...]:
    """What the runtime role may do on ``table``: never TRUNCATE, REFERENCES or TRIGGER."""
    if table in READ_ONLY_TABLES:
        return READ
    if table in APPEND_ONLY_TABLES:
        return APPEND
    return READ_WRITE


def check_role_name(name: str) -> str:
    """A role name as the SQL uses it unquoted: lower-case letters, digits and underscores."""
    if not _ROLE_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a plain role name (lower-case letters, digits, _; at most 63)")
    return name


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def roles_sql(database: str, tables: list[str], owner: str = OWNER_ROLE, runtime: str = RUNTIME_ROLE) -> str:
    """The SQL that sets up the two roles for ``database``, whose app tables are ``tables``."""
    owner, runtime = check_role_name(owner), check_role_name(runtime)
    if owner == runtime:
        raise ValueError("the owner and the runtime role must be two different roles")
    db_name = _quote(database)
    grants = []
    for table in [*tables, *sorted(READ_ONLY_TABLES)]:
        privileges = runtime_privileges(table)
        note = {APPEND: "  -- append-only", READ: "  -- read only"}.get(privileges, "")
        grants.append(
            f"    IF to_regclass('public.{table}') IS NOT NULL THEN\n"
            f"        REVOKE ALL ON TABLE public.{table} FROM {runtime};\n"
            f"        GRANT {', '.join(privileges)} ON TABLE public.{table} TO {runtime};{note}\n"
            f"    END IF;")
    # Role names pass check_role_name, the database name is quoted, table names come from the models.
    return f"""\
-- fundapp: two PostgreSQL roles for the database {db_name}
-- (printed by `flask --app wsgi fund db-roles --print`).
--
-- Run it as a superuser, connected to that database:
--     psql -U postgres -d {db_name} -v ON_ERROR_STOP=1 -f fundapp-roles.sql
-- It is safe to run again (it creates only what is missing and sets every grant again).
--
--   {owner}  owns the schema, the tables, the sequences and the ledger's functions;
--       only `flask db upgrade` (and `fund restore`) connect as it.
--   {runtime}  gunicorn, the worker and the cron commands connect as it: it reads and writes
--       rows but owns nothing (no ALTER, DROP, TRUNCATE or DISABLE TRIGGER), and may only read and
--       insert on the append-only tables ({', '.join(sorted(APPEND_ONLY_TABLES))}).
--
-- No password is set or printed here: the roles cannot sign in with one until you set it.
-- Afterwards set each one yourself in psql (it asks, and sends only a hash):
--     \\password {owner}
--     \\password {runtime}
-- then use DATABASE_URL=postgresql://{runtime}:PASSWORD@HOST/{database} for gunicorn and the worker,
-- and postgresql://{owner}:PASSWORD@HOST/{database} only for `flask db upgrade`.

BEGIN;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{owner}') THEN
        CREATE ROLE {owner} LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{runtime}') THEN
        CREATE ROLE {runtime} LOGIN;
    END IF;
    -- The runtime role must not be able to act as the owner.
    IF EXISTS (SELECT FROM pg_auth_members
               WHERE roleid = '{owner}'::regrole AND member = '{runtime}'::regrole) THEN
        REVOKE {owner} FROM {runtime};
    END IF;
END $$;
-- Neither may do more than its job, even if it existed before this script.
ALTER ROLE {owner} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE {runtime} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- The owner owns the database, its schema and everything in the schema: an existing installation's
-- tables, sequences and functions move to it from whichever role made them.
ALTER DATABASE {db_name} OWNER TO {owner};
ALTER SCHEMA public OWNER TO {owner};
DO $$
DECLARE
    object record;
BEGIN
    FOR object IN
        SELECT c.oid::regclass::text AS name,
               CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                              WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS kind
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND c.relowner <> '{owner}'::regrole
          -- a sequence that belongs to a column moves with its table
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE 'ALTER ' || object.kind || ' ' || object.name || ' OWNER TO {owner}';
    END LOOP;
    FOR object IN
        SELECT p.oid::regprocedure::text AS name FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> '{owner}'::regrole
    LOOP
        EXECUTE 'ALTER ROUTINE ' || object.name || ' OWNER TO {owner}';
    END LOOP;
END $$;

-- Only the owner creates objects in the schema; the runtime role may use what is there.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM {runtime};
GRANT USAGE ON SCHEMA public TO {runtime};
GRANT CONNECT ON DATABASE {db_name} TO {runtime};

-- The runtime role's rights on each table (tables that do not exist yet are left to the defaults below).
DO $$
BEGIN
{chr(10).join(grants)}
END $$;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {runtime};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {runtime};

-- Tables and sequences that later migrations create (as the owner) get the same rights by default.
-- A later append-only table is closed again by every `flask db upgrade` once its name is in
-- fundapp.db_roles.APPEND_ONLY_TABLES (the migrations revoke UPDATE, DELETE and TRUNCATE on it).
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {runtime};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO {runtime};

COMMIT;
"""  # nosec B608 # printed for an operator; names checked or quoted (see above)


def append_only_sql() -> str:
    """Revoke from every role but a table's owner what ``runtime_privileges`` does not allow on the
    append-only and read-only tables that exist (run by the migrations; idempotent)."""
    limited = ", ".join(f"('{table}', ARRAY[{', '.join(repr(p) for p in runtime_privileges(table))}])"
                        for table in sorted(APPEND_ONLY_TABLES | READ_ONLY_TABLES))
    return f"""\
DO $$
DECLARE
    grant_ record;
BEGIN
    FOR grant_ IN
        SELECT c.oid::regclass::text AS tab, acl.privilege_type AS privilege,
               CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(acl.grantee)) END AS who
        FROM (VALUES {limited}) AS limited (name, allowed)
        JOIN pg_class c ON c.relname = limited.name AND c.relnamespace = 'public'::regnamespace
        CROSS JOIN LATERAL aclexplode(c.relacl) AS acl
        WHERE acl.grantee <> c.relowner AND NOT acl.privilege_type = ANY (limited.allowed)
    LOOP
        EXECUTE 'REVOKE ' || grant_.privilege || ' ON TABLE ' || grant_.tab || ' FROM ' || grant_.who;
    END LOOP;
END $$"""  # nosec B608 # table names from APPEND_ONLY_TABLES and READ_ONLY_TABLES


#: Who this connection is and whether it could rewrite the books: a superuser, a role that can grant
#: itself other roles (CREATEROLE), or the owner (or a member of the owner) of any table.
ROLE_QUERY = """
SELECT current_user::text, r.rolsuper, r.rolcreaterole,
       ARRAY(SELECT t.tablename::text FROM pg_tables t
             WHERE t.schemaname NOT IN ('pg_catalog', 'information_schema')
               AND pg_has_role(current_user, t.tableowner, 'MEMBER')
             ORDER BY t.tablename)
FROM pg_roles r WHERE r.rolname = current_user
"""


class PrivilegedRole(RuntimeError):
    """The app connected as a role that could change the schema or rewrite history."""


def role_problem(role: str, superuser: bool, createrole: bool, owned: list[str]) -> str | None:
    """Why serving as ``role`` is refused, in words for the operator (None: it is a runtime role)."""
    if superuser:
        why = "is a superuser"
    elif createrole:
        why = "has CREATEROLE (it could make itself the owner)"
    elif owned:
        shown = ", ".join(owned[:5]) + (f" and {len(owned) - 5} more" if len(owned) > 5 else "")
        why = f"owns (or is a member of the owner of) the app's tables ({shown})"
    else:
        return None
    return (f"Refusing to start in production: the database role {role!r} {why}, so the app could alter "
            f"the schema, disable the ledger's triggers or rewrite the audit trail. Connect the app "
            f"(DATABASE_URL for gunicorn and the worker) as the runtime role ({RUNTIME_ROLE}) and run "
            f"`flask db upgrade` as the owner role ({OWNER_ROLE}); `flask --app wsgi fund db-roles --print` "
            f"prints the SQL that sets them up.")


def _refuse_privileged_connection(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(ROLE_QUERY)
        problem = role_problem(*cursor.fetchone())
    finally:
        cursor.close()
        dbapi_connection.rollback()
    if problem:
        raise PrivilegedRole(problem)


def guard_database_role(app) -> None:
    """In production on PostgreSQL: check now, and on every new connection, that the app is not
    connected as a privileged role; raise ``ConfigError`` if it is. A database that cannot be reached
    now is checked when the first connection is made."""
    from fundapp.config import ConfigError
    from fundapp.extensions import db

    if app.config["ENV_NAME"] != "production":
        return
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        return
    if not sa.event.contains(engine, "connect", _refuse_privileged_connection):
        sa.event.listen(engine, "connect", _refuse_privileged_connection)
    engine.dispose()  # a connection made before the listener was there is not reused
    try:
        with engine.connect():
            pass
    except PrivilegedRole as exc:
        raise ConfigError(str(exc)) from None
    except sa.exc.OperationalError as exc:
        app.logger.warning("Could not reach the database to check its role now (%s); each new connection "
                           "is checked when it is made.", type(exc).__name__)
