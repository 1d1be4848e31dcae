"""Operations: the worker and the mail, backups, retention, the database's roles, and running locally with
demo data."""
from __future__ import annotations

import os
import sys
from datetime import timedelta

import click
from flask import current_app

from fundapp import db_roles, demo
from fundapp.cli.base import every_fund_or_named, fail, fund_cli, installed_fund
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import services as ledger
from fundapp.mail import answer_requests, deliver_pending
from fundapp.money import format_cents


@fund_cli.command("worker")
@click.option("--once", is_flag=True, help="Apply what is due and send what is due, then exit (for cron).")
@click.option("--again", is_flag=True, help="With --once: also retry Stripe events that gave up.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds to wait when there is nothing to do.")
def worker_command(once, again, interval):
    """Apply the Stripe events the webhook stored and send the mail that waits; runs until stopped (SIGTERM).
    Production runs one or more beside gunicorn; run-local runs one in its own process."""
    import signal
    import threading

    from fundapp.donations.events import apply_waiting_events
    from fundapp.worker import run_worker

    if once:
        done = apply_waiting_events(again=again)
        answer_requests(limit=1000)
        sent, failed = deliver_pending(limit=1000)
        click.echo(f"Stripe events: {done.applied} applied, {done.ignored} ignored, {done.failed} failed. "
                   f"Mail: {sent} sent, {failed} failed.")
        sys.exit(1 if done.failed or failed else 0)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_args: stop.set())
    started = f"fundapp worker {os.getpid()}: applying Stripe events and sending mail (SIGTERM stops it)"
    if current_app.config["LOG_FORMAT"] == "json":  # the worker's output is its log: one JSON object a line
        current_app.logger.info("%s", started)
    else:
        click.echo(started)
    run_worker(interval=interval, stop=stop)


@fund_cli.command("send-mail")
def send_mail_command():
    """Send everything that waits in the outbox now, even messages waiting to be tried again later."""
    answer_requests(limit=1000)
    sent, failed = deliver_pending(limit=1000, now=True)
    click.echo(f"Sent {sent}, failed {failed}.")
    if failed:
        sys.exit(1)


@fund_cli.command("purge-closed")
@click.option("--after-days", type=click.IntRange(30), default=None,
              help="Days after a case closed (default: RETENTION_DAYS, three years).")
def purge_closed_command(after_days):
    """Remove the documents and personal details of cases closed longer than the retention period; the books,
    amounts and the anonymised register stay. Safe to run from cron."""
    from fundapp.accounts import sessions as account_sessions
    from fundapp.privacy.retention import purge_closed

    days = after_days or current_app.config["RETENTION_DAYS"]
    funds = every_fund_or_named()
    for fund in funds:  # every fund's cases (or the one --fund names): one timer keeps every fund's promise
        done = purge_closed(fund, timedelta(days=days))
        db.session.commit()
        click.echo(("" if len(funds) == 1 else f"{fund.name}: ")
                   + f"Removed the personal details of {done.cases} cases closed over {days} days ago, and "
                   f"{done.documents} documents ({done.bytes / 1_000_000:.1f} MB).")
    sessions = account_sessions.purge_ended()
    db.session.commit()
    click.echo(f"Removed {sessions} sign-in sessions that ended over {account_sessions.ENDED_KEPT.days} days ago.")


@fund_cli.command("backup")
@click.option("-o", "--output", "target", required=True, type=click.Path(file_okay=False),
              help="A new folder for the backup.")
def backup_command(target):
    """Back up the database (SQLite online backup, or pg_dump) and the documents, with a manifest."""
    from pathlib import Path

    from fundapp.backup import BackupError, backup

    try:
        manifest = backup(Path(target))
    except BackupError as exc:
        fail(str(exc))
    counts = manifest["counts"]
    click.echo(f"Backed up to {target}: {counts['journal_entries']} journal entries, {counts['donations']} gifts, "
               f"{counts['applications']} applications, {counts['application_documents']} documents, "
               f"{counts['audit_records']} audit records (migration {manifest['revision']}).")


@fund_cli.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False))
def restore_command(source):
    """Restore a backup into an empty database and documents folder, then check it against its manifest and the
    audit chain."""
    from pathlib import Path

    from fundapp.backup import BackupError, restore

    try:
        manifest = restore(Path(source))
    except BackupError as exc:
        fail(str(exc))
    click.echo(f"Restored the backup of {manifest['created_at']}: counts, migration and audit chain match "
               f"({manifest['counts']['audit_records']} audit records verified).")


@fund_cli.command("db-roles")
@click.option("--print", "print_sql", is_flag=True,
              help="Write the SQL to standard output, for a superuser to run (the command runs nothing).")
@click.option("--owner-role", default=db_roles.OWNER_ROLE, show_default=True,
              help="The migration role: owns the schema and the tables; only `flask db upgrade` uses it.")
@click.option("--runtime-role", default=db_roles.RUNTIME_ROLE, show_default=True,
              help="The role gunicorn and the worker connect as: reads and writes rows, owns nothing.")
@click.option("--database", help="The database's name (default: the one in DATABASE_URL).")
def db_roles_command(print_sql, owner_role, runtime_role, database):
    """Print the SQL that sets up two PostgreSQL roles (owner and runtime) for the app's database."""
    if not print_sql:
        fail("db-roles only prints the SQL, for you to run as a superuser (the app never holds a superuser's "
              "password): pass --print.")
    url = db.engine.url
    if database is None:
        if url.get_backend_name() != "postgresql" or not url.database:
            fail("DATABASE_URL is not a PostgreSQL database: name it with --database.")
        database = url.database
    tables = [table.name for table in db.metadata.sorted_tables]
    try:
        sql = db_roles.roles_sql(database, tables, owner=owner_role, runtime=runtime_role)
    except ValueError as exc:
        fail(str(exc))
    click.echo(sql, nl=False)


@fund_cli.command("run-local")
@click.option("--port", default=5000, show_default=True, help="The app's port on 127.0.0.1.")
@click.option("--stripe-port", default=8420, show_default=True, help="The local Stripe server's port on 127.0.0.1.")
def run_local_command(port, stripe_port):
    """Serve the app on 127.0.0.1 in local mode: a local Stripe server in this process, wired to the app."""
    from fundapp.payments.gateway import LocalModeUnsafe, check_local_mode
    from fundapp.payments.local_server import LocalStripe

    app = current_app._get_current_object()
    if app.config["ENV_NAME"] == "production":
        fail("run-local is for development; production runs under gunicorn with Stripe itself.")
    from fundapp.setup import init_fund

    done = init_fund(app.config["FUND_DEFAULTS"])  # as `fund init`: a fresh local database serves at once
    db.session.commit()
    if done.changed:
        click.echo("\n".join(done.lines()))
    server = LocalStripe()
    base = server.start(stripe_port)
    app.config["STRIPE_API_BASE"] = base
    try:
        check_local_mode(app.config)
    except LocalModeUnsafe as exc:
        server.stop()
        fail(str(exc))
    server.register_webhook(f"http://127.0.0.1:{port}/stripe/webhook", app.config["STRIPE_WEBHOOK_SECRET"])
    click.echo(f"Local Stripe server (TEST MODE, no real money) at {base}")
    click.echo(f"fundapp is starting at http://127.0.0.1:{port}  (Ctrl-C stops both)")
    from fundapp.worker import start_worker_thread

    stop = start_worker_thread(app)
    try:
        from werkzeug.serving import run_simple

        run_simple("127.0.0.1", port, app, use_reloader=False, threaded=True)
    finally:
        stop()
        server.stop()


@fund_cli.command("create-database")
def create_database_command():
    """Create the PostgreSQL database DATABASE_URL names, when it is missing, for `make serve` (connecting to the
    server's `postgres` database as the same role). A production database is made by its administrator."""
    import sqlalchemy as sa

    if current_app.config["ENV_NAME"] == "production":
        fail("create-database is for `make serve`; in production the database's administrator creates it.")
    url = db.engine.url
    if url.get_backend_name() != "postgresql" or not url.database:
        fail("DATABASE_URL is not a PostgreSQL database.")
    server = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}):
                click.echo(f"The database {url.database} is there.")
                return
            from psycopg import sql  # the name as a quoted identifier (CREATE DATABASE takes no bound parameter)

            conn.connection.driver_connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database)))
            click.echo(f"Created the database {url.database}.")
    except sa.exc.OperationalError as exc:
        fail(f"PostgreSQL did not answer at {url.render_as_string(hide_password=True)}: {exc.orig}")
    finally:
        server.dispose()


@fund_cli.command("local-stripe")
@click.option("--port", default=8420, show_default=True, help="The local Stripe server's port on 127.0.0.1.")
@click.option("--webhook-url", required=True, help="Where it sends its events: the app's /stripe/webhook.")
def local_stripe_command(port, webhook_url):
    """Serve the local Stripe server (TEST MODE, no real money) on 127.0.0.1 as a process of its own, for
    `make serve`: gunicorn and the worker reach it through STRIPE_API_BASE. Runs until SIGTERM or Ctrl-C."""
    import signal
    import threading

    from fundapp.payments.gateway import LocalModeUnsafe, check_local_mode
    from fundapp.payments.local_server import LocalStripe

    app = current_app._get_current_object()
    if app.config["ENV_NAME"] == "production":
        fail("local-stripe is for development; production talks to Stripe itself.")
    import logging

    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # a line per API call says nothing an operator needs
    server = LocalStripe()
    base = server.start(port)
    try:
        check_local_mode({**app.config, "STRIPE_API_BASE": base})
    except LocalModeUnsafe as exc:
        server.stop()
        fail(str(exc))
    server.register_webhook(webhook_url, app.config["STRIPE_WEBHOOK_SECRET"])
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_args: stop.set())
    click.echo(f"Local Stripe server (TEST MODE, no real money) at {base}, sending events to {webhook_url}")
    stop.wait()
    server.stop()


@fund_cli.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Exit quietly (0) instead of failing when there is real data.")
def seed_demo_command(if_empty):
    """Fill a new local database with a demo fund, a 50-member roster and one user per role."""
    if current_app.config["ENV_NAME"] == "production":
        fail("seed-demo is for local use only and refuses to run in production.")
    if demo.is_seeded():
        click.echo("Demo data is already there.")
        _print_demo_sign_ins()
        return
    if demo.holds_real_data():
        if if_empty:
            click.echo("The database holds real data; not adding demo data.")
            return
        fail("this database already holds real data; seed-demo only fills a new, empty database.")
    from fundapp.setup import init_fund

    fund = init_fund(current_app.config["FUND_DEFAULTS"]).fund
    seeded = demo.seed_demo(fund, clock.today(fund))
    db.session.commit()
    click.echo(f"Posted {seeded.entries} demo journal entries (three months of gifts, payouts and deposits) and "
               f"{seeded.cases} members' applications (grants paid, and a queue for the trustees).")
    click.echo(f"Demo fund \"{fund.name}\" created with 50 roster members.")
    _print_demo_sign_ins()


@fund_cli.command("demo-bank-statement")
@click.option("--month", help="The month (YYYY-MM); last month when not given.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True)
def demo_bank_statement_command(month, output):
    """Local mode only: write the CSV the demo fund's bank would give for a month, to try the reconciliation."""
    if current_app.config["ENV_NAME"] == "production":
        fail("demo-bank-statement makes up a bank statement; it refuses to run in production.")
    fund = installed_fund()
    if month is None:
        first = clock.today(fund).replace(day=1)
        month = f"{(first - timedelta(days=1)):%Y-%m}"
    try:
        text, ending_cents, outstanding = demo.demo_bank_statement(fund, month)
    except ledger.LedgerError as exc:
        fail(str(exc))
    with open(output, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    click.echo(f"Wrote the demo bank's statement for {month} to {output}: ending balance "
               f"{format_cents(ending_cents, fund.currency)}; cheques not yet cashed: {', '.join(outstanding) or 'none'}.")
    click.echo("On /admin/bank choose CSV with the columns Posted Date (MM/DD/YYYY), Description, Debit, Credit and "
               "Check Number, and enter that ending balance.")


def _print_demo_sign_ins() -> None:
    click.echo(f"Demo sign-ins (password for all: {demo.DEMO_PASSWORD}):")
    for n, (email, _name, roles) in enumerate(demo.DEMO_USERS):
        host = ", and the host's operator (/host/)" if n == 0 else ""
        click.echo(f"  {email:32} {', '.join(r.value for r in roles)}{host}")


@fund_cli.command("init")
def init_command():
    """Create the fund from the settings, its first rules and its chart of accounts, if missing (idempotent).
    Run it after every `flask db upgrade`; no page ever creates these."""
    from fundapp.setup import init_fund

    done = init_fund(current_app.config["FUND_DEFAULTS"])
    db.session.commit()
    for line in done.lines():
        click.echo(line)


@fund_cli.command("open-fund")
@click.option("--slug", required=True, help="The fund's short name: its pages are at /f/SLUG/.")
@click.option("--name", required=True, help="The fund's name, as pages and receipts show it.")
@click.option("--legal-name", help="The legal name receipts print (default: the name).")
@click.option("--ein", required=True, help="The EIN receipts print (12-3456789).")
@click.option("--legal-form", type=click.Choice(["501(c)(5)", "501(c)(3)", "other"]), default="501(c)(5)",
              show_default=True)
@click.option("--contact-email", required=True, help="The address receipts give for donors' questions.")
@click.option("--goal", default="0", help="The fundraising goal the home page shows (dollars).")
@click.option("--time-zone", default="America/Los_Angeles", show_default=True)
@click.option("--treasurer-email", required=True, help="The first treasurer: given the role, or an account and "
                                                      "a link to choose a password.")
@click.option("--treasurer-name", required=True)
def open_fund_command(slug, name, legal_name, ein, legal_form, contact_email, goal, time_zone, treasurer_email,
                      treasurer_name):
    """Open another fund on this installation: its settings, first rules, chart of accounts and treasurer."""
    from fundapp.money import InvalidAmount, parse_amount
    from fundapp.setup import OpenFundError, open_fund

    try:
        goal_cents = parse_amount(goal)
    except InvalidAmount as exc:
        fail(f"--goal: {exc}")
    try:
        done = open_fund({"slug": slug, "name": name, "legal_name": legal_name or name, "ein": ein,
                          "legal_form": legal_form, "contact_email": contact_email, "goal_cents": goal_cents,
                          "time_zone": time_zone}, treasurer_email=treasurer_email, treasurer_name=treasurer_name)
    except OpenFundError as exc:
        fail(f"--{exc.field.replace('_', '-')}: {exc}")
    db.session.commit()
    click.echo(f"Opened the fund {done.fund.name} ({done.fund.slug}): its pages are at "
               f"{current_app.config['BASE_URL']}/f/{done.fund.slug}/")
    click.echo(f"{done.treasurer.email} is its treasurer" + (
        ": an account was made and a link to choose a password was mailed." if done.new_account
        else " (their account already existed; they were told)."))


@fund_cli.command("set-operator")
@click.option("--email", required=True)
@click.option("--remove", is_flag=True, help="Take the operator's rights away instead.")
def set_operator_command(email, remove):
    """Make someone one of the host union's operators (the /host/ pages: open funds, see every fund's figures
    and what belongs to no fund), or take that away."""
    from fundapp.accounts.services import find_user_by_email, set_operator

    user = find_user_by_email(email)
    if user is None:
        fail(f"no account has the address {email}; create it first (fund create-user).")
    set_operator(user, not remove, actor=None)
    db.session.commit()
    click.echo(f"{user.email} is {'no longer ' if remove else ''}an operator.")
