"""The books: closing and reopening months, the bank's statements, exports, reports, the year-end pack, and
the checks that the books and the audit trail are whole."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import click

from fundapp.audit.services import (
    ANCHOR_PREFIX,
    BREAKS,
    AnchorInvalid,
    anchor_problem,
    parse_anchor,
    take_anchor,
    verify_chain,
)
from fundapp.bank import documents as bank_documents
from fundapp.bank import services as bank
from fundapp.cli.base import every_fund_or_named, fail, fund_cli, installed_fund
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import documents, exports
from fundapp.ledger import services as ledger
from fundapp.mail import deliver_pending
from fundapp.money import format_cents
from fundapp.reporting import documents as reporting_documents
from fundapp.reporting import exports as reporting_exports

PRODUCTS = {"quickbooks": "QuickBooks Online", "xero": "Xero"}
REPORT_KINDS = (*documents.KINDS, *reporting_documents.KINDS, bank_documents.KIND)


@fund_cli.command("close-month")
@click.argument("month")
def close_month_command(month):
    """Close the books for MONTH (YYYY-MM): no entry may be dated in it afterwards."""
    try:
        fund = installed_fund()
        unready = [check["summary"] for check in ledger.close_checks(fund, ledger.parse_month(month)).values()
                   if not check["ready"]]
        ledger.close_month(fund, month)
    except ledger.LedgerError as exc:
        fail(str(exc))
    db.session.commit()
    for summary in unready:
        click.echo(f"Note: {summary}")
    click.echo(f"Closed {month}.")


@fund_cli.command("reopen-month")
@click.argument("month")
@click.option("--reason", required=True, help="Why the month is reopened (kept in the audit trail).")
def reopen_month_command(month, reason):
    """Reopen a closed MONTH (YYYY-MM); the reason is audited."""
    try:
        ledger.reopen_month(installed_fund(), month, reason=reason)
    except ledger.LedgerError as exc:
        fail(str(exc))
    db.session.commit()
    click.echo(f"Reopened {month}.")


@fund_cli.command("check-books")
@click.option("--repair", is_flag=True, help="Write the day totals again from the postings if they differ.")
def check_books_command(repair):
    """Check every invariant of the books: the trial balance, the day totals (what balances are read from)
    against the postings, every closed month against what it held when it was closed, and each grant's
    payments and payable; print each broken one by name and object, and exit non-zero if any is."""
    from fundapp.review.checks import check_grants

    funds = every_fund_or_named()
    problems: list[str] = []
    for fund in funds:  # every fund's books (or the one --fund names): one timer checks them all
        where = "" if len(funds) == 1 else f"{fund.slug}: "
        day_totals = ledger.check_day_totals(fund)
        if day_totals and repair:
            ledger.rebuild_day_totals(fund)
            db.session.commit()
            click.echo(f"{where}Rebuilt the day totals ({len(day_totals)} days differed, e.g. {day_totals[0]}).")
            day_totals = ledger.check_day_totals(fund)
        found = [f"day_totals_match_postings: {problem} (the day totals differ from the postings; run with --repair)"
                 for problem in day_totals]
        lines = ledger.trial_balance(fund)
        debits, credits = sum(line.debit_cents for line in lines), sum(line.credit_cents for line in lines)
        if debits != credits:
            found.append(f"trial_balance_balances: the trial balance is out by {debits - credits} cents")
        found += [f"closed_month_unchanged: {change}" for change in ledger.check_closed_months(fund)]
        found += check_grants(fund)
        problems += [where + problem for problem in found]
        if not found:
            click.echo(f"{where}The books balance ({debits} cents each side), every day total equals its postings, "
                       f"every closed month holds what it held when it was closed, and every grant's payments and "
                       f"payable agree.")
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        fail(f"{len(problems)} broken invariant(s) in the books (listed above)")


@fund_cli.command("import-bank")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "file_format", type=click.Choice(bank.FORMATS),
              help="csv or ofx (default: from the file's name; .qfx is OFX).")
def import_bank_command(file, file_format):
    """Import the bank's statement FILE (OFX/QFX, or CSV read with the column layout last chosen on the bank page)."""
    fund = installed_fund()
    if file_format is None:
        file_format = "ofx" if file.lower().endswith((".ofx", ".qfx")) else "csv"
    layout = bank.csv_format(fund) if file_format == "csv" else None
    if file_format == "csv" and layout is None:
        fail("no CSV column layout is saved for this fund: import one CSV statement on the bank page "
              "(/admin/bank) first, choosing its columns there; this command then reads the same layout.")
    with open(file, "rb") as source:
        data = source.read()
    try:
        found = bank.import_statement(fund, data, filename=os.path.basename(file), file_format=file_format,
                                      layout=layout)
    except bank.BankError as exc:
        fail(str(exc))
    db.session.commit()
    balance = "unknown" if found.ending_balance_cents is None else format_cents(found.ending_balance_cents, fund.currency)
    click.echo(f"Imported {found.line_count} bank lines from {found.period_start} to {found.period_end} "
               f"(ending balance {balance}).")


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
        fail("--from comes after --to.")
    fund = installed_fund()
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
        for chunk in reporting_exports.csv_chunks(header, counted(rows(installed_fund()))):
            out.write(chunk)
    click.echo(f"Wrote {written:,} rows of {table} to {output}.")


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
    fund = installed_fund()
    today = clock.today(fund)
    try:
        with _replacing(output) as out:
            if kind in documents.KINDS:
                title = documents.TITLES[kind]
                documents.write_ledger_pdf(fund, kind, start, end, out)  # the journal drawn straight into the file
            elif kind == bank_documents.KIND:
                if end is None:
                    fail("bank-reconciliation needs --to, the bank statement's last day.")
                title = bank_documents.TITLE
                out.write(bank_documents.reconciliation_pdf(fund, end))
            else:
                title = reporting_documents.TITLES[kind]
                out.write(reporting_documents.report_pdf(fund, kind, today, month=month, language=lang,
                                                         start=start, end=end))
    except (documents.ReportRequestError, reporting_documents.ReportRequestError) as exc:
        fail(str(exc))
    click.echo(f"Wrote {title.lower()} ({os.path.getsize(output):,} bytes) to {output}.")


@contextmanager
def _replacing(path: str) -> Iterator[BinaryIO]:
    """A file beside ``path`` that becomes ``path`` once written whole: a report refused or broken half way leaves
    no half-written file behind, nor removes the one there before."""
    part = f"{path}.part"
    try:
        with open(part, "wb") as out:
            yield out
        os.replace(part, path)
    finally:
        if os.path.exists(part):
            os.remove(part)


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

    fund = installed_fund()
    start, end = year_end.year_span(fund, year)
    sizes = year_end.write_year_end(fund, year, Path(output))
    click.echo(f"Wrote the year-end pack for {year_end.span_label(start, end)} to {output}: {len(sizes)} files "
               f"({sum(sizes.values()):,} bytes); README.txt says what each serves.")


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
            fail(str(exc))
    report = verify_chain()
    if report.first_broken_id is not None:
        fail(f"audit chain broken at record {report.first_broken_id} (after {report.checked} good records): "
              f"{BREAKS[report.reason]}")
    if anchor is not None:
        problem = anchor_problem(anchor)
        if problem is not None:
            fail(f"the audit trail does not hold the anchor: {problem}")
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
        fail(f"--anchor is neither an anchor line nor a file that can be read ({exc.strerror}: {source})")
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
