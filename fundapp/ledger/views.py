"""The treasurer's view of the books: available funds, trial balance, closed months, exports."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from fundapp.accounts.models import Role
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.funds.services import current_fund
from fundapp.ledger import documents, exports, mapping
from fundapp.ledger import services as ledger
from fundapp.ledger import transfers as transfer_service
from fundapp.ledger.forms import AccountMappingForm, CloseMonthForm, ReopenMonthForm, TransferForm
from fundapp.policy import roles_required
from fundapp.web import confirm_first, confirmed, date_arg, download, money_text, parse_amount, show_error

bp = Blueprint("ledger", __name__, url_prefix="/admin/ledger")


@bp.get("/")
@roles_required(Role.TREASURER)
def index(close_form: CloseMonthForm | None = None, reopen_form: ReopenMonthForm | None = None) -> ResponseReturnValue:
    fund = current_fund()
    as_of = date_arg("as_of")
    lines = ledger.trial_balance(fund, as_of)
    checks = [(month, ledger.close_checks(fund, month)) for month in ledger.next_months_to_close(fund)]
    return render_template(
        "ledger/index.html", fund=fund, as_of=as_of, lines=lines,
        total_debit=sum(line.debit_cents for line in lines), total_credit=sum(line.credit_cents for line in lines),
        available=ledger.available_to_grant(fund, as_of), closed=ledger.closed_months(fund), checks=checks,
        kinds=documents.KINDS, close_form=close_form or CloseMonthForm(formdata=None, prefix="close"),
        reopen_form=reopen_form or ReopenMonthForm(formdata=None, prefix="reopen"))


def _period_change(form: CloseMonthForm | ReopenMonthForm, change: Callable[[Any], None], done: str,
                   form_name: str) -> ResponseReturnValue:
    """Close or reopen a month from its form: the service decides, its refusal shows on the form."""
    if form.validate_on_submit():
        try:
            change(form)
        except ledger.LedgerError as exc:
            db.session.rollback()
            show_error(form, exc, "month")
        else:
            db.session.commit()
            flash(done % {"month": form.month.data}, "success")
            return redirect(url_for("ledger.index"))
    return index(**{form_name: form}), 422


def _closable(form: CloseMonthForm) -> tuple[str, list[str]]:
    """The month asked for and what the domains say of it; refused when one sees work left in it (the bank
    statement not reconciled) and the treasurer did not say to close it anyway."""
    fund = current_fund()
    month = ledger.closable_month(fund, form.month.data)
    checks = ledger.close_checks(fund, month).values()
    unready = [check["summary"] for check in checks if not check["ready"]]
    if unready and not form.not_reconciled_ok.data:
        raise ledger.LedgerError(" ".join(unready) + " " + _("Finish it first, or tick the box to close the month "
                                                               "anyway (the close records it)."))
    return month, [check["summary"] for check in checks if check.get("summary")]


def _close(form: CloseMonthForm) -> None:
    month, _said = _closable(form)
    ledger.close_month(current_fund(), month, actor=current_user)


@bp.post("/close-month")
@roles_required(Role.TREASURER)
def close_month() -> ResponseReturnValue:
    form = CloseMonthForm(prefix="close")
    if form.validate_on_submit() and not confirmed():
        try:
            month, said = _closable(form)
        except ledger.LedgerError:
            db.session.rollback()  # the refusal is shown by the form below
        else:
            return confirm_first(_("Close %(month)s?", month=month), [
                _("From now on no entry can be dated in %(month)s: a gift, refund or payment that belongs to it is "
                  "booked in the next open month instead.", month=month),
                *said,
                _("The close is recorded in the audit trail with a fingerprint of the month's books. Reopening it "
                  "needs a reason, also recorded.")],
                _("Close %(month)s", month=month), url_for("ledger.index"))
    return _period_change(form, _close, _("%(month)s is closed."), "close_form")


@bp.post("/reopen-month")
@roles_required(Role.TREASURER)
def reopen_month() -> ResponseReturnValue:
    return _period_change(
        ReopenMonthForm(prefix="reopen"),
        lambda form: ledger.reopen_month(current_fund(), form.month.data, reason=form.reason.data,
                                         actor=current_user),
        _("%(month)s is open again."), "reopen_form")


@bp.get("/export")
@roles_required(Role.TREASURER)
def export() -> ResponseReturnValue:
    fund = current_fund()
    fmt = request.args.get("format")
    start, end = date_arg("from"), date_arg("to")
    buffer = io.StringIO(newline="")
    if fmt == "csv":
        buffer.write("\ufeff")  # a BOM so Excel reads UTF-8
        exports.write_csv(fund, buffer, start, end)
        mimetype, suffix = "text/csv", "csv"
    elif fmt == "beancount":
        exports.write_beancount(fund, buffer, start, end)
        mimetype, suffix = "text/plain", "beancount"
    elif fmt == "quickbooks":
        exports.write_quickbooks(fund, buffer, mapping.quickbooks_names(fund), start, end)
        mimetype, suffix = "text/csv", "csv"
    elif fmt == "xero":
        exports.write_xero(fund, buffer, mapping.xero_codes(fund), start, end)
        mimetype, suffix = "text/csv", "csv"
    else:
        abort(400)
    span = "-".join(d.isoformat() for d in (start, end) if d) or "all"
    kind = "ledger" if fmt in ("csv", "beancount") else fmt
    return download(buffer.getvalue(), f"{fund.slug}-{kind}-{span}.{suffix}", f"{mimetype}; charset=utf-8")


@bp.route("/accounts", methods=["GET", "POST"])
@roles_required(Role.TREASURER)
def accounts() -> ResponseReturnValue:
    """Where each of our accounts goes in the union's QuickBooks Online or Xero; every save audited."""
    fund = current_fund()
    form = AccountMappingForm.for_accounts(mapping.account_mappings(fund))
    if form.validate_on_submit():
        try:
            changed = mapping.update_account_mappings(fund, form.values(), actor=current_user)
        except mapping.MappingError as exc:
            db.session.rollback()
            account_id = next(m.account_id for m in form.mapped if m.account == exc.account)
            form[f"{'qb' if exc.target == 'quickbooks' else 'xero'}_{account_id}"].errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Saved the mapping of the accounts.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("ledger.accounts"))
    mapped = mapping.account_mappings(fund)
    return render_template("ledger/accounts.html", fund=fund, form=form, mapped=mapped,
                           unmapped_quickbooks=[m.account for m in mapped if not m.quickbooks],
                           unmapped_xero=[m.account for m in mapped if not m.xero]), 422 if form.errors else 200


@bp.get("/report")
@roles_required(Role.TREASURER)
def report() -> ResponseReturnValue:
    fund = current_fund()
    kind, start, end = request.args.get("kind", ""), date_arg("from"), date_arg("to")
    try:
        pdf = documents.ledger_pdf(fund, kind, start, end)
    except documents.ReportRequestError as exc:
        flash(str(exc), "error")
        return redirect(url_for("ledger.index"))
    return download(pdf, documents.filename(fund, kind, start, end))


# --- transfers between the funds of the installation -------------------------------------------------------


@bp.get("/transfers")
@roles_required(Role.TRUSTEE, Role.TREASURER)
def transfers() -> ResponseReturnValue:
    """The fund's transfers to and from the other funds: the treasurer proposes, a trustee of each side approves."""
    fund = current_fund()
    form = _transfer_form(fund)
    return _transfers_page(fund, form)


def _transfer_form(fund: Fund) -> TransferForm:
    form = TransferForm(prefix="transfer")
    form.to_fund.choices = [(str(other.id), other.name) for other in db.session.scalars(
        db.select(Fund).where(Fund.id != fund.id, Fund.currency == fund.currency).order_by(Fund.name))]
    return form


def _transfers_page(fund: Fund, form: TransferForm) -> ResponseReturnValue:
    from fundapp.accounts.models import User

    rows = transfer_service.transfers_of(fund)
    fund_names = dict(db.session.execute(db.select(Fund.id, Fund.name)).all())
    people = {rid for row in rows for rid in (row.proposed_by_id, row.from_approved_by_id, row.to_approved_by_id) if rid}
    names = dict(db.session.execute(db.select(User.id, User.name).where(User.id.in_(people))).all()) if people else {}
    return render_template("ledger/transfers.html", fund=fund, form=form, rows=rows, fund_names=fund_names,
                           names=names, available=ledger.available_to_grant(fund)), 422 if form.errors else 200


@bp.post("/transfers")
@roles_required(Role.TREASURER)
def propose_transfer() -> ResponseReturnValue:
    fund = current_fund()
    form = _transfer_form(fund)
    if form.validate_on_submit():
        to_fund = db.session.get(Fund, int(form.to_fund.data)) if form.to_fund.data.isdigit() else None
        try:
            transfer_service.propose_transfer(fund, to_fund, parse_amount(form.amount.data), form.memo.data,
                                              actor=current_user)
        except transfer_service.TransferError as exc:
            db.session.rollback()
            show_error(form, exc, "amount")
        else:
            db.session.commit()
            flash(_("Proposed. A trustee of each fund approves it; the second approval books it in both funds' "
                    "books."), "success")
            return redirect(url_for("ledger.transfers"))
    return _transfers_page(fund, form)


@bp.post("/transfers/<int:transfer_id>/approve")
@roles_required(Role.TRUSTEE)
def approve_transfer(transfer_id: int) -> ResponseReturnValue:
    fund = current_fund()
    transfer = transfer_service.transfer_of(fund, transfer_id)
    if transfer is None:
        abort(404)
    if not confirmed():
        giver = transfer.from_fund_id == fund.id
        return confirm_first(_("Approve this transfer?"), [
            (_("%(amount)s leaves this fund's books for another fund of the installation.") if giver
             else _("%(amount)s comes into this fund's books from another fund of the installation."))
            % {"amount": money_text(transfer.amount_cents, fund.currency)},
            _("Reason given: %(memo)s", memo=transfer.memo),
            _("Once a trustee of each fund has approved, it is booked in both funds' books and cannot be undone "
              "but by another transfer.")], _("Approve"), url_for("ledger.transfers"))
    try:
        done = transfer_service.approve_transfer(transfer_id, fund, actor=current_user)
    except transfer_service.TransferError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("Approved and booked in both funds' books.") if done.booked_at else
              _("Approved. It waits for a trustee of the other fund."), "success")
    return redirect(url_for("ledger.transfers"))


@bp.post("/transfers/<int:transfer_id>/withdraw")
@roles_required(Role.TREASURER)
def withdraw_transfer(transfer_id: int) -> ResponseReturnValue:
    fund = current_fund()
    try:
        transfer_service.withdraw_transfer(transfer_id, fund, actor=current_user)
    except transfer_service.TransferError:
        db.session.rollback()
        abort(404)
    db.session.commit()
    flash(_("The transfer is withdrawn; nothing was booked."), "success")
    return redirect(url_for("ledger.transfers"))


@bp.get("/final-report")
@roles_required(Role.TRUSTEE, Role.TREASURER)
def final_report() -> ResponseReturnValue:
    """The fund's whole life in its books, for its wind-down: everything raised, returned, granted and moved to
    other funds, and what is left (to transfer, or return as the rules say)."""
    fund = current_fund()
    figures = ledger.final_figures(fund)
    return render_template("ledger/final_report.html", fund=fund, figures=figures, today=clock.today(fund))
