"""The treasurer's bank page: import a statement, match its lines to the books, book fees and interest, and
download the reconciliation at a statement's end."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fundapp.accounts.models import Role
from fundapp.bank import documents
from fundapp.bank import reconciliation as bank_rec
from fundapp.bank import services as bank
from fundapp.bank.forms import ImportStatementForm, LineActionForm
from fundapp.bank.models import BankStatementLine
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.services import current_fund
from fundapp.ledger import services as ledger
from fundapp.policy import roles_required
from fundapp.web import date_arg, download, int_arg, show_error

bp = Blueprint("bank", __name__, url_prefix="/admin/bank")


def _window() -> int:
    return min(int_arg("window", current_app.config.get("BANK_MATCH_WINDOW_DAYS", bank.DEFAULT_WINDOW_DAYS)), 31)


def _line(line_id: int) -> BankStatementLine:
    line = db.session.get(BankStatementLine, line_id)
    if line is None or line.fund_id != current_fund().id:
        abort(404)
    return line


def _import_form(fund) -> ImportStatementForm:
    layout = bank.csv_format(fund)
    form = ImportStatementForm(formdata=None, obj=layout)
    if layout is not None:
        form.file_format.data = "csv"
    return form


@bp.get("/")
@roles_required(Role.TREASURER)
def index(form: ImportStatementForm | None = None):
    fund = current_fund()
    months = bank_rec.months_with_lines(fund)
    month = request.args.get("month", "")
    try:
        month = ledger.parse_month(month) if month else (months[0] if months else clock.month(fund))
    except ledger.LedgerError:
        abort(400)
    window = _window()
    start, end = bank_rec.month_bounds(month)
    lines = bank_rec.lines_in(fund, start, end)
    candidates = bank.unmatched_postings(fund, max(start - timedelta(days=window), bank.first_day(fund) or start),
                                         end + timedelta(days=window))
    rows = [{"line": line, "matched": bank_rec.matched_postings(line),
             "suggestions": bank.suggestions(fund, line, window, candidates),
             "choices": [p for p in candidates if abs((p.entry_date - line.line_date).days) <= window
                         and (p.amount_cents > 0) == (line.amount_cents > 0)] if not line.is_matched else []}
            for line in lines]
    return render_template("bank/index.html", fund=fund, month=month, months=months, rows=rows, window=window,
                           form=form or _import_form(fund), action=LineActionForm(formdata=None),
                           status=bank_rec.month_status(fund, month), closed=ledger.is_closed(fund, start),
                           statements=bank_rec.statements(fund)[:12])


@bp.post("/import")
@roles_required(Role.TREASURER)
def import_statement():
    fund = current_fund()
    form = ImportStatementForm()
    if form.validate_on_submit():
        try:
            layout = None
            if form.file_format.data == "csv":
                layout = bank.save_csv_format(
                    fund, date_column=form.date_column.data or "", date_format=form.date_format.data,
                    description_column=form.description_column.data or "", amount_column=form.amount_column.data or "",
                    debit_column=form.debit_column.data or "", credit_column=form.credit_column.data or "",
                    reference_column=form.reference_column.data or "", actor=current_user)
            found = bank.import_statement(
                fund, form.statement.data.read(), filename=form.statement.data.filename or "", actor=current_user,
                file_format=form.file_format.data, layout=layout,
                ending_balance_cents=form.ending_balance_cents() if form.file_format.data == "csv" else None,
                statement_start=form.statement_start.data if form.file_format.data == "csv" else None,
                statement_end=form.statement_end.data if form.file_format.data == "csv" else None)
        except bank.BankError as exc:
            db.session.rollback()
            show_error(form, exc, "statement")
        else:
            db.session.commit()
            flash(_("Imported %(count)s bank lines from %(start)s to %(end)s.", count=found.line_count,
                    start=found.period_start.isoformat(), end=found.period_end.isoformat()), "success")
            return redirect(url_for("bank.index", month=f"{found.period_end:%Y-%m}"))
    return index(form=form), 422


def _line_action(line_id: int, change, done: str):
    """Run one change on a line (the service decides); its refusal is flashed, then back to the line's month."""
    line = _line(line_id)
    month = f"{line.line_date:%Y-%m}"
    if LineActionForm().validate_on_submit():
        try:
            change(current_fund(), line.id)
        except (bank.BankError, ledger.LedgerError) as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(done, "success")
    else:
        flash(_("The form expired. Please try again."), "error")
    return redirect(url_for("bank.index", month=month, _anchor=f"line-{line_id}"))


@bp.post("/lines/<int:line_id>/match")
@roles_required(Role.TREASURER)
def match(line_id: int):
    postings = request.form.getlist("posting", type=int)
    return _line_action(line_id, lambda fund, lid: bank.match_line(fund, lid, postings, actor=current_user),
                        _("The bank line is matched."))


@bp.post("/lines/<int:line_id>/book")
@roles_required(Role.TREASURER)
def book(line_id: int):
    kind = request.form.get("kind", "")
    return _line_action(line_id, lambda fund, lid: bank.book_bank_item(fund, lid, kind, actor=current_user),
                        _("Booked in the books and matched."))


@bp.post("/lines/<int:line_id>/unmatch")
@roles_required(Role.TREASURER)
def unmatch(line_id: int):
    return _line_action(line_id, lambda fund, lid: bank.unmatch_line(fund, lid, actor=current_user),
                        _("The match is undone."))


@bp.get("/report")
@roles_required(Role.TREASURER)
def report():
    fund = current_fund()
    as_of = date_arg("to")
    if as_of is None:
        flash(_("Choose the statement's last day."), "error")
        return redirect(url_for("bank.index"))
    return download(documents.reconciliation_pdf(fund, as_of), documents.filename(fund, as_of))
