"""``flask --app wsgi fund ...``: the operator's and treasurer's commands.

Each command does its work through the same services as the pages, commits
once, and exits non-zero with a clear message when it refuses.
"""
from __future__ import annotations

import os
import random
import sys
from datetime import date, timedelta

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from fundapp import db_roles
from fundapp.accounts import services
from fundapp.accounts.models import Member, Role, User
from fundapp.audit.services import (ANCHOR_PREFIX, BREAKS, AnchorInvalid, anchor_problem, parse_anchor, take_anchor,
                                    verify_chain)
from fundapp.bank import documents as bank_documents
from fundapp.bank import services as bank
from fundapp.config import ConfigError
from fundapp.demo import DEMO_DOMAIN, seed_demo_cases
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.funds.services import get_or_create_fund
from fundapp.ledger import documents, exports
from fundapp.ledger import services as ledger
from fundapp.mail import answer_requests, deliver_pending
from fundapp.money import format_cents
from fundapp.reporting import documents as reporting_documents
from fundapp.reporting import exports as reporting_exports

#: Commands an operator may run in production as the database's owner role: ``restore`` rebuilds the
#: schema, ``db-roles`` only prints SQL. Every other command (the worker and the cron jobs among them)
#: refuses a role that could rewrite the books, as the web server does.
OWNER_COMMANDS = {"restore", "db-roles"}


@with_appcontext
def _refuse_privileged_role() -> None:
    if click.get_current_context().invoked_subcommand not in OWNER_COMMANDS:
        try:
            db_roles.guard_database_role(current_app._get_current_object())
        except ConfigError as exc:
            _fail(str(exc))


fund_cli = AppGroup("fund", help="Run the hardship fund: users, roster, demo data, mail.",
                    callback=_refuse_privileged_role)

ROLE_NAMES = [r.value for r in Role]
DEMO_PASSWORD = "picket-line-demo"  # nosec B105 # demo data only; seed-demo refuses production
DEMO_USERS = [
    ("treasurer@" + DEMO_DOMAIN, "Tess Treasurer", [Role.TREASURER, Role.TRUSTEE]),
    ("trustee@" + DEMO_DOMAIN, "Tom Trustee", [Role.TRUSTEE]),
    ("trustee2@" + DEMO_DOMAIN, "Tina Trustee", [Role.TRUSTEE]),
    ("applicant@" + DEMO_DOMAIN, "Ana Applicant", [Role.APPLICANT]),
    ("donor@" + DEMO_DOMAIN, "Dan Donor", [Role.DONOR]),
]


def _fund() -> Fund:
    return get_or_create_fund(current_app.config["FUND_DEFAULTS"])


def _fail(message: str) -> None:
    db.session.rollback()
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@fund_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLE_NAMES),
              help="Repeat for several roles.")
@click.option("--language", type=click.Choice(["en", "es"]), default="en")
def create_user_command(email, name, roles, language):
    """Create an account. The password comes from FUNDAPP_PASSWORD or a prompt, never an argument."""
    password = os.environ.get("FUNDAPP_PASSWORD")
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = services.create_user(_fund(), email=email, name=name, password=password, roles=roles,
                                    language=language)
    except services.AccountError as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(f"Created {user.email} with roles: {', '.join(sorted(roles))}")


@fund_cli.command("import-roster")
@click.argument("file", type=click.File("rb"))
def import_roster_command(file):
    """Import (upsert by member id) the membership roster from a CSV file; all or nothing."""
    try:
        result = services.import_roster(_fund(), file.read())
    except services.RosterInvalid as exc:
        db.session.rollback()
        click.echo(f"Error: {exc}", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"Imported {result.rows} rows: {result.created} new, {result.updated} updated, "
               f"{result.unchanged} unchanged.")


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
    from fundapp.privacy.retention import purge_closed

    days = after_days or current_app.config["RETENTION_DAYS"]
    done = purge_closed(_fund(), timedelta(days=days))
    click.echo(f"Removed the personal details of {done.cases} cases closed over {days} days ago, and "
               f"{done.documents} documents ({done.bytes / 1_000_000:.1f} MB).")


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
        _fail(str(exc))
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
        _fail(str(exc))
    click.echo(f"Restored the backup of {manifest['created_at']}: counts, migration and audit chain match "
               f"({manifest['counts']['audit_records']} audit records verified).")


@fund_cli.command("clear-second-factor")
@click.option("--email", required=True)
def clear_second_factor_command(email):
    """Forget someone's authenticator app (a lost phone and lost recovery codes): they connect a new one at
    their next sign-in."""
    from fundapp.accounts import two_factor

    user = services.find_user_by_email(email)
    if user is None:
        _fail(f"no account uses {email}")
    two_factor.clear(user, actor=None)
    db.session.commit()
    click.echo(f"{user.email} will connect a new authenticator app at their next sign-in.")


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
    click.echo(f"fundapp worker {os.getpid()}: applying Stripe events and sending mail (SIGTERM stops it)")
    run_worker(interval=interval, stop=stop)


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
        _fail("db-roles only prints the SQL, for you to run as a superuser (the app never holds a superuser's "
              "password): pass --print.")
    url = db.engine.url
    if database is None:
        if url.get_backend_name() != "postgresql" or not url.database:
            _fail("DATABASE_URL is not a PostgreSQL database: name it with --database.")
        database = url.database
    tables = [table.name for table in db.metadata.sorted_tables]
    try:
        sql = db_roles.roles_sql(database, tables, owner=owner_role, runtime=runtime_role)
    except ValueError as exc:
        _fail(str(exc))
    click.echo(sql, nl=False)


@fund_cli.command("verify-audit")
@click.option("--anchor", "anchor_source", metavar="FILE_OR_LINE",
              help="An anchor from audit-anchor (a file holding it, the newest line counting, or the line itself): "
                   "the trail must still hold its head at its place.")
def verify_audit_command(anchor_source):
    """Check the whole audit trail's hash chain and seals; name the first broken record. With --anchor, also
    check that no record up to the anchor's head was rewritten or cut off."""
    anchor = None
    if anchor_source is not None:
        try:
            anchor = parse_anchor(_anchor_text(anchor_source))
        except AnchorInvalid as exc:
            _fail(str(exc))
    report = verify_chain()
    if report.first_broken_id is not None:
        _fail(f"audit chain broken at record {report.first_broken_id} (after {report.checked} good records): "
              f"{BREAKS[report.reason]}")
    if anchor is not None:
        problem = anchor_problem(anchor)
        if problem is not None:
            _fail(f"the audit trail does not hold the anchor: {problem}")
        click.echo(f"Audit trail intact: {report.checked} records ({report.sealed} sealed), holding the anchor of "
                   f"{anchor.at:%Y-%m-%d %H:%M} UTC (record {anchor.record_id}, {anchor.length} records).")
        return
    click.echo(f"Audit trail intact: {report.checked} records ({report.sealed} sealed).")


def _anchor_text(source: str) -> str:
    """The anchor line itself, or the newest (last) anchor line in the file ``source`` names."""
    if source.lstrip().startswith(ANCHOR_PREFIX):
        return source
    try:
        with open(source, encoding="utf-8") as held:
            lines = [line for line in held.read().splitlines() if line.strip()]
    except OSError as exc:
        _fail(f"--anchor is neither an anchor line nor a file that can be read ({exc.strerror}: {source})")
    return lines[-1] if lines else ""


@fund_cli.command("audit-anchor")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Also write the line to FILE.")
def audit_anchor_command(output):
    """Print one line naming the audit trail's length and newest hash, sealed with AUDIT_KEY, and mail it to
    every trustee and treasurer. Kept outside the database, it lets verify-audit --anchor show later that no
    record up to it was rewritten or cut off. Run it nightly from cron."""
    from fundapp.accounts.notices import mail_audit_anchor

    anchor = take_anchor()
    mail_audit_anchor(anchor)
    if output:
        with open(output, "w", encoding="utf-8") as out:
            out.write(anchor.line + "\n")
    db.session.commit()
    deliver_pending()
    click.echo(anchor.line)


@fund_cli.command("close-month")
@click.argument("month")
def close_month_command(month):
    """Close the books for MONTH (YYYY-MM): no entry may be dated in it afterwards."""
    try:
        fund = _fund()
        unready = [check["summary"] for check in ledger.close_checks(fund, ledger.parse_month(month)).values()
                   if not check["ready"]]
        ledger.close_month(fund, month)
    except ledger.LedgerError as exc:
        _fail(str(exc))
    db.session.commit()
    for summary in unready:
        click.echo(f"Note: {summary}")
    click.echo(f"Closed {month}.")


@fund_cli.command("import-bank")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "file_format", type=click.Choice(bank.FORMATS),
              help="csv or ofx (default: from the file's name; .qfx is OFX).")
def import_bank_command(file, file_format):
    """Import the bank's statement FILE (OFX/QFX, or CSV read with the column layout last chosen on the bank page)."""
    fund = _fund()
    if file_format is None:
        file_format = "ofx" if file.lower().endswith((".ofx", ".qfx")) else "csv"
    layout = bank.csv_format(fund) if file_format == "csv" else None
    if file_format == "csv" and layout is None:
        _fail("no CSV column layout is saved for this fund: import one CSV statement on the bank page "
              "(/admin/bank) first, choosing its columns there; this command then reads the same layout.")
    with open(file, "rb") as source:
        data = source.read()
    try:
        found = bank.import_statement(fund, data, filename=os.path.basename(file), file_format=file_format,
                                      layout=layout)
    except bank.BankError as exc:
        _fail(str(exc))
    db.session.commit()
    balance = "unknown" if found.ending_balance_cents is None else format_cents(found.ending_balance_cents, fund.currency)
    click.echo(f"Imported {found.line_count} bank lines from {found.period_start} to {found.period_end} "
               f"(ending balance {balance}).")


@fund_cli.command("reopen-month")
@click.argument("month")
@click.option("--reason", required=True, help="Why the month is reopened (kept in the audit trail).")
def reopen_month_command(month, reason):
    """Reopen a closed MONTH (YYYY-MM); the reason is audited."""
    try:
        ledger.reopen_month(_fund(), month, reason=reason)
    except ledger.LedgerError as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(f"Reopened {month}.")


PRODUCTS = {"quickbooks": "QuickBooks Online", "xero": "Xero"}


@fund_cli.command("export-ledger")
@click.option("--format", "fmt", type=click.Choice(["csv", "beancount", "quickbooks", "xero"]), required=True)
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (YYYY-MM-DD).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True)
def export_ledger_command(fmt, start, end, output):
    """Write the books as CSV (one row per posting), Beancount (checkable with bean-check), or a journal import
    file for QuickBooks Online or Xero (accounts named by the fund's mapping, /admin/ledger/accounts)."""
    from fundapp.ledger import mapping

    start, end = (start.date() if start else None), (end.date() if end else None)
    if start is not None and end is not None and start > end:
        _fail("--from comes after --to.")
    fund = _fund()
    if fmt == "csv":
        with open(output, "w", encoding="utf-8-sig", newline="") as out:
            count = exports.write_csv(fund, out, start, end)
        click.echo(f"Wrote {count} postings to {output}.")
    elif fmt == "beancount":
        with open(output, "w", encoding="utf-8") as out:
            count = exports.write_beancount(fund, out, start, end)
        click.echo(f"Wrote {count} entries to {output}.")
    else:
        with open(output, "w", encoding="utf-8", newline="") as out:
            if fmt == "quickbooks":
                count, lines = exports.write_quickbooks(fund, out, mapping.quickbooks_names(fund), start, end)
            else:
                count, lines = exports.write_xero(fund, out, mapping.xero_codes(fund), start, end)
        click.echo(f"Wrote {count} journal entries ({lines} lines) for {PRODUCTS[fmt]} to {output}.")
        missing = mapping.unmapped(fund, fmt)
        if missing:
            click.echo(f"Not mapped to an account of yours (exported under our own name): {', '.join(missing)}. "
                       f"Map them at /admin/ledger/accounts.", err=True)
        if fmt == "xero" and lines > exports.XERO_MAX_LINES:
            click.echo(f"Xero imports at most {exports.XERO_MAX_LINES} lines a file: export a month at a time "
                       f"(--from, --to).", err=True)


@fund_cli.command("reconcile-stripe")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Look at charges from this day (default: 35 days ago).")
def reconcile_stripe_command(since):
    """Book every Stripe charge and refund the books lack; safe to repeat (e.g. from cron)."""
    from fundapp.donations.booking import reconcile_stripe
    from fundapp.donations.giving import DonationError, close_stale_checkouts
    from fundapp.payments.facts import RetryLater

    fund = _fund()
    start = clock.start_of(fund, since.date()) if since else clock.now() - timedelta(days=35)
    try:
        result = reconcile_stripe(fund, start)
    except (RetryLater, DonationError, ledger.LedgerError) as exc:
        _fail(f"reconciliation stopped, nothing saved: {exc}")
    closed = close_stale_checkouts(fund)
    db.session.commit()
    deliver_pending()
    click.echo(f"Looked at {result.charges_seen} charges since {start:%Y-%m-%d}: booked {result.payments_booked} "
               f"payments, {result.refunds_booked} refunds, {result.disputes_booked} dispute movements and "
               f"{result.payouts_booked} payouts that were missing."
               + (f" {result.not_booked} stored Stripe events name objects Stripe does not confirm (or another API "
                  f"version): nothing of them is booked; see the treasurer's queue page." if result.not_booked else "")
               + (f" Closed {closed} gifts left at a checkout that has expired." if closed else ""))


@fund_cli.command("send-statements")
@click.option("--year", type=int, required=True, help="The year of the gifts (e.g. last year, in January).")
def send_statements_command(year):
    """Queue every donor's year-end statement for the mail worker; stop it any time and run it again: nobody
    gets two. It may run while the app runs (and the treasurer sends from the page): each donor is one short write."""
    from fundapp.donations import receipts as donations

    fund = _fund()
    due = donations.statement_progress(fund, year).due
    if not due:
        click.echo(f"Every donor with gifts in {year} already has their statement.")
        return
    queued = 0
    with click.progressbar(length=due, label=f"Statements for {year}", show_pos=True) as bar:
        for done in donations.send_due_statements(fund, year):
            queued += done
            db.session.commit()  # one donor at a time: an interrupted run loses nothing and repeats nothing
            bar.update(1)
    progress = donations.statement_progress(fund, year)
    click.echo(f"Queued {queued} statements for {year} ({progress.queued} in all, {progress.delivered} delivered "
               "so far); the mail worker (flask fund worker, or run-local) sends them.")


@fund_cli.command("test-dispute")
@click.argument("dispute_id")
@click.option("--won/--lost", required=True, help="Whether the fund wins the dispute.")
def test_dispute_command(dispute_id, won):
    """Local mode only: decide a test dispute as the cardholder's bank would (card 4000 0000 0000 0259)."""
    from fundapp.payments import gateway

    try:
        status = gateway.decide_test_dispute(dispute_id, won)
    except (gateway.GatewayError, gateway.LocalModeUnsafe) as exc:
        _fail(str(exc))
    click.echo(f"Dispute {dispute_id} is {status}; its events follow in about a second.")


@fund_cli.command("run-local")
@click.option("--port", default=5000, show_default=True, help="The app's port on 127.0.0.1.")
@click.option("--stripe-port", default=8420, show_default=True, help="The local Stripe server's port on 127.0.0.1.")
def run_local_command(port, stripe_port):
    """Serve the app on 127.0.0.1 in local mode: a local Stripe server in this process, wired to the app."""
    from fundapp.payments.gateway import LocalModeUnsafe, check_local_mode
    from fundapp.payments.local_server import LocalStripe

    app = current_app._get_current_object()
    if app.config["ENV_NAME"] == "production":
        _fail("run-local is for development; production runs under gunicorn with Stripe itself.")
    server = LocalStripe()
    base = server.start(stripe_port)
    app.config["STRIPE_API_BASE"] = base
    try:
        check_local_mode(app.config)
    except LocalModeUnsafe as exc:
        server.stop()
        _fail(str(exc))
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



@fund_cli.command("seed-scale")
@click.option("--donations", type=click.IntRange(1), default=1_000_000, show_default=True)
@click.option("--grants", type=click.IntRange(1), default=100_000, show_default=True)
def seed_scale_command(donations, grants):
    """Fill an empty fund with a year of a large strike, by bulk inserts, for benchmarks (no audit records,
    no mail; the books balance). Needs a trustee or treasurer (create-user); refuses production."""
    from fundapp.scale import ScaleRefused, seed_scale

    if current_app.config["ENV_NAME"] == "production":
        _fail("seed-scale writes made-up data and refuses to run in production.")
    with click.progressbar(length=donations + grants, label="Scale data", show_pos=True) as bar:
        try:
            fund = _fund()
            timings = seed_scale(fund, donations=donations, grants=grants, today=clock.today(fund),
                                 progress=lambda _part, rows: bar.update(rows))
        except ScaleRefused as exc:
            _fail(str(exc))
    click.echo(f"Wrote {donations:,} donations in {timings['donations']:.1f} s and {grants:,} paid grants in "
               f"{timings['grants']:.1f} s.")


REPORT_KINDS = (*documents.KINDS, *reporting_documents.KINDS, bank_documents.KIND)


@fund_cli.command("check-books")
@click.option("--repair", is_flag=True, help="Write the day totals again from the postings if they differ.")
def check_books_command(repair):
    """Check every invariant of the books: the trial balance, the day totals (what balances are read from)
    against the postings, every closed month against what it held when it was closed, and each grant's
    payments and payable; print each broken one by name and object, and exit non-zero if any is."""
    from fundapp.review.checks import check_grants

    fund = _fund()
    day_totals = ledger.check_day_totals(fund)
    if day_totals and repair:
        ledger.rebuild_day_totals(fund)
        db.session.commit()
        click.echo(f"Rebuilt the day totals ({len(day_totals)} days differed, e.g. {day_totals[0]}).")
        day_totals = ledger.check_day_totals(fund)
    problems = [f"day_totals_match_postings: {problem} (the day totals differ from the postings; run with --repair)"
                for problem in day_totals]
    lines = ledger.trial_balance(fund)
    debits, credits = sum(line.debit_cents for line in lines), sum(line.credit_cents for line in lines)
    if debits != credits:
        problems.append(f"trial_balance_balances: the trial balance is out by {debits - credits} cents")
    problems += [f"closed_month_unchanged: {change}" for change in ledger.check_closed_months(fund)]
    problems += check_grants(fund)
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        _fail(f"{len(problems)} broken invariant(s) in the books (listed above)")
    click.echo(f"The books balance ({debits} cents each side), every day total equals its postings, every closed "
               f"month holds what it held when it was closed, and every grant's payments and payable agree.")


@fund_cli.command("report")
@click.argument("kind", type=click.Choice(REPORT_KINDS))
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (YYYY-MM-DD).")
@click.option("--month", help="monthly: the month (YYYY-MM); this month when not given.")
@click.option("--lang", type=click.Choice(["en", "es"]), default="en", show_default=True,
              help="monthly and members: the report's language.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True)
def report_command(kind, start, end, month, lang, output):
    """Write a PDF: the journal by account, the trial balance (at --to), the statement of activities, the
    statement of financial position (balance-sheet, at --to), the monthly report to the board, the report for
    members, the grants register, the donor list or the bank reconciliation (at --to, a statement's last day)."""
    start, end = (start.date() if start else None), (end.date() if end else None)
    fund = _fund()
    today = clock.today(fund)
    try:
        if kind in documents.KINDS:
            pdf, title = documents.ledger_pdf(fund, kind, start, end), documents.TITLES[kind]
        elif kind == bank_documents.KIND:
            if end is None:
                _fail("bank-reconciliation needs --to, the bank statement's last day.")
            pdf, title = bank_documents.reconciliation_pdf(fund, end), bank_documents.TITLE
        else:
            title = reporting_documents.TITLES[kind]
            pdf = reporting_documents.report_pdf(fund, kind, today, month=month, language=lang, start=start, end=end)
    except (documents.ReportRequestError, reporting_documents.ReportRequestError) as exc:
        _fail(str(exc))
    with open(output, "wb") as out:
        out.write(pdf)
    click.echo(f"Wrote {title.lower()} ({len(pdf):,} bytes) to {output}.")


@fund_cli.command("year-end")
@click.option("--year", type=click.IntRange(2000, 9999), required=True,
              help="The fiscal year, by the calendar year it begins in (the fund's fiscal year setting).")
@click.option("-o", "--output", type=click.Path(file_okay=False, writable=True), required=True,
              help="The folder to write into (made if missing).")
def year_end_command(year, output):
    """Write the year-end pack for the accountant and Form 990 into a folder: the statements of activities and
    of financial position, the trial balance (PDF and CSV), the grants register, grants to individuals by type
    of assistance (Schedule I Part III), donors of $5,000 or more with addresses (Schedule B), each recipient's
    grants, and a README.txt saying what each file serves."""
    from pathlib import Path

    from fundapp.reporting import year_end

    fund = _fund()
    start, end = year_end.year_span(fund, year)
    sizes = year_end.write_year_end(fund, year, Path(output))
    click.echo(f"Wrote the year-end pack for {year_end.span_label(start, end)} to {output}: {len(sizes)} files "
               f"({sum(sizes.values()):,} bytes); README.txt says what each serves.")


@fund_cli.command("export")
@click.argument("table", type=click.Choice(list(reporting_exports.TABLES)))
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True)
def export_command(table, output):
    """Write a CSV (UTF-8 for Excel, ISO dates, decimal amounts): donations, donors, grants, the grants
    register, payments, or the members' anonymised figures. The ledger is ``export-ledger``."""
    header, rows = reporting_exports.TABLES[table]
    written = 0

    def counted(source):
        nonlocal written
        for row in source:
            written += 1
            yield row

    with open(output, "w", encoding="utf-8", newline="") as out:
        for chunk in reporting_exports.csv_chunks(header, counted(rows(_fund()))):
            out.write(chunk)
    click.echo(f"Wrote {written:,} rows of {table} to {output}.")


FIRST_NAMES = ["Ana", "Luis", "Maria", "James", "Keisha", "Wei", "Fatima", "Jose", "Linda", "Omar",
               "Rosa", "David", "Thu", "Carlos", "Grace", "Ahmed", "Lupe", "Sam", "Nadia", "Marcus"]
LAST_NAMES = ["Garcia", "Smith", "Nguyen", "Johnson", "Martinez", "Brown", "Lopez", "Williams", "Kim",
              "Hernandez", "Davis", "Rodriguez", "Jones", "Perez", "Chen", "Núñez", "Okafor", "Miller"]
WORKSITES = ["North Plant", "South Plant", "Distribution Centre", "Head Office"]
UNITS = ["Production", "Maintenance", "Warehouse", "Clerical"]


def demo_phone(n: int) -> str:
    """Demo member D-(1000+n)'s made-up phone (555-01xx numbers are reserved for fiction): it ends in 01nn."""
    return f"(555) 555-{100 + n:04d}"


def demo_roster_csv(count: int = 50, seed: int = 1) -> bytes:
    """A made-up roster of ``count`` members (the first one is the demo applicant)."""
    rng = random.Random(seed)  # nosec B311 # made-up demo data, not security
    lines = ["member_id,first_name,last_name,email,worksite,unit,on_strike,phone"]
    lines.append(f"D-1000,Ana,Applicant,applicant@{DEMO_DOMAIN},North Plant,Production,yes,{demo_phone(0)}")
    for n in range(1, count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"member{n}@{DEMO_DOMAIN}" if n % 3 else ""
        lines.append(f"D-{1000 + n},{first},{last},{email},{rng.choice(WORKSITES)},{rng.choice(UNITS)},"
                     f"{'no' if n % 10 == 0 else 'yes'},{demo_phone(n)}")
    return ("\n".join(lines) + "\n").encode()


def _holds_real_data() -> bool:
    """Any account outside the demo domain, or any roster entry of a fund that is not the demo's."""
    real_users = db.session.scalar(db.select(db.func.count(User.id)).where(~User.email.like(f"%@{DEMO_DOMAIN}")))
    real_members = db.session.scalar(
        db.select(db.func.count(Member.id)).join(Fund, Member.fund_id == Fund.id).where(Fund.is_demo.is_(False)))
    return bool(real_users or real_members)


@fund_cli.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Exit quietly (0) instead of failing when there is real data.")
def seed_demo_command(if_empty):
    """Fill a new local database with a demo fund, a 50-member roster and one user per role."""
    if current_app.config["ENV_NAME"] == "production":
        _fail("seed-demo is for local use only and refuses to run in production.")
    if db.session.scalar(db.select(db.func.count(User.id)).where(User.email == DEMO_USERS[0][0])):
        click.echo("Demo data is already there.")
        _print_demo_sign_ins()
        return
    if _holds_real_data():
        if if_empty:
            click.echo("The database holds real data; not adding demo data.")
            return
        _fail("this database already holds real data; seed-demo only fills a new, empty database.")
    fund = _fund()
    fund.is_demo = True
    fund.reserve_cents = 100000
    for email, name, roles in DEMO_USERS:
        services.create_user(fund, email=email, name=name, password=DEMO_PASSWORD, roles=roles)
    services.import_roster(fund, demo_roster_csv())
    applicant = services.find_user_by_email(DEMO_USERS[3][0])
    services.link_member(applicant, fund, member_id="D-1000", last_name="Applicant", phone_last4=demo_phone(0))
    entries = seed_demo_books(fund, clock.today(fund))
    treasurer, tom, tina = (services.find_user_by_email(email) for email, _name, _roles in DEMO_USERS[:3])
    cases = seed_demo_cases(fund, clock.today(fund), treasurer=treasurer, trustees=[tom, tina], password=DEMO_PASSWORD)
    db.session.commit()
    click.echo(f"Posted {entries} demo journal entries (three months of gifts, payouts and deposits) and "
               f"{cases} members' applications (grants paid, and a queue for the trustees).")
    click.echo(f"Demo fund \"{fund.name}\" created with 50 roster members.")
    _print_demo_sign_ins()


@fund_cli.command("demo-bank-statement")
@click.option("--month", help="The month (YYYY-MM); last month when not given.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True)
def demo_bank_statement_command(month, output):
    """Local mode only: write the CSV the demo fund's bank would give for a month, to try the reconciliation."""
    from fundapp.demo import demo_bank_statement

    if current_app.config["ENV_NAME"] == "production":
        _fail("demo-bank-statement makes up a bank statement; it refuses to run in production.")
    fund = _fund()
    if month is None:
        first = clock.today(fund).replace(day=1)
        month = f"{(first - timedelta(days=1)):%Y-%m}"
    try:
        text, ending_cents, outstanding = demo_bank_statement(fund, month)
    except ledger.LedgerError as exc:
        _fail(str(exc))
    with open(output, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    click.echo(f"Wrote the demo bank's statement for {month} to {output}: ending balance "
               f"{format_cents(ending_cents, fund.currency)}; cheques not yet cashed: {', '.join(outstanding) or 'none'}.")
    click.echo("On /admin/bank choose CSV with the columns Posted Date (MM/DD/YYYY), Description, Debit, Credit and "
               "Check Number, and enter that ending balance.")


DEMO_WALL = ["Solidarity from the nurses of Local 12!", "Hold the line. We are with you.",
             "From a teacher whose union stood up too.", "One day longer, one day stronger.",
             "Con ustedes hasta el final.", "My dad walked this line in 1986. Thank you."]


def seed_demo_books(fund: Fund, today: date, seed: int = 3) -> int:
    """Three months of made-up activity through the same services as real money: card gifts with
    Stripe's fee (donations with receipts, some on the donor wall), cheques and cash deposited
    weekly, weekly payouts (grants come from ``fundapp.demo``). No mail is sent for demo gifts."""
    from fundapp.donations import booking, offline
    from fundapp.donations.models import WallStatus
    from fundapp.payments.facts import PaymentSettled, PayoutFact

    rng = random.Random(seed)  # nosec B311 # made-up demo data, not security
    posted = 0

    def post(day, memo, kind, source, postings):
        nonlocal posted
        ledger.post_entry(fund, entry_date=day, memo=memo, source_kind=kind, source_id=source, postings=postings)
        posted += 1

    start = today - timedelta(days=90)
    post(start, "Opening balance carried from the union's strike account", "demo.opening", "1",
         [("Assets:Bank", 1_500_000), ("Equity:Opening", -1_500_000)])
    people = [(f"{first} {last}", f"{first}.{last}@demo.example.org".lower().replace("ñ", "n").replace("ú", "u"))
              for first in FIRST_NAMES[:10] for last in LAST_NAMES[:6]]
    people.append(("Dan Donor", DEMO_USERS[4][0]))
    for offset in range(91):
        day = start + timedelta(days=offset)
        for n in range(rng.randint(1, 4)):
            gross = rng.choice([1_000, 2_500, 5_000, 10_000, 25_000]) + rng.choice([0, 0, 0, 137])
            fee = gross * 29 // 1000 + 30  # 2.9% + 30c, as Stripe charges in the US
            name, email = people[-1] if n == 0 and offset % 30 == 5 else rng.choice(people)
            gift = booking.record_settled_payment(fund, PaymentSettled(
                charge_id=f"demo_ch_{offset}_{n}", payment_intent_id=None, invoice_id=None, subscription_id=None,
                customer_id=None, gross_cents=gross, fee_cents=fee, net_cents=gross - fee, currency=fund.currency,
                at=clock.start_of(fund, day) + timedelta(hours=12), email=email, name=name), notify=False)
            gift.anonymous = rng.random() < 0.2
            if rng.random() < 0.08:
                gift.wall_status, gift.wall_message = WallStatus.SHOWN, rng.choice(DEMO_WALL)
            posted += 1
        if offset % 7 == 6:
            stripe_balance = ledger.balance(fund, "Assets:Stripe")
            if stripe_balance > 0:
                booking.record_payout(fund, PayoutFact(f"demo_po_{offset}", stripe_balance, fund.currency, day,
                                                         "paid"))
                posted += 1
            for n in range(rng.randint(1, 3)):
                name, email = rng.choice(people)
                offline.record_offline_gift(fund, name=name, email=email, amount_cents=rng.randint(2_000, 20_000),
                                              received_on=day - timedelta(days=1), method=rng.choice(["cheque", "cash"]),
                                              reference=str(1000 + offset * 3 + n), notify=False)
                posted += 1
            offline.record_deposit(fund, [g.id for g in offline.undeposited_gifts(fund)], deposited_on=day,
                                     reference=f"slip {offset}")
            posted += 1
    return posted


def _print_demo_sign_ins() -> None:
    click.echo(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
    for email, _name, roles in DEMO_USERS:
        click.echo(f"  {email:32} {', '.join(r.value for r in roles)}")
