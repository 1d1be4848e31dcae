"""The treasurer's view of the books: available funds, trial balance, closed months, exports."""
from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, Response, abort, render_template, request

from fundapp.accounts.models import Role
from fundapp.funds.services import current_fund
from fundapp.ledger import exports
from fundapp.ledger import services as ledger
from fundapp.policy import roles_required

bp = Blueprint("ledger", __name__, url_prefix="/admin/ledger")


def _date_arg(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400)


@bp.get("/")
@roles_required(Role.TREASURER)
def index():
    fund = current_fund()
    as_of = _date_arg("as_of")
    lines = ledger.trial_balance(fund, as_of)
    return render_template(
        "ledger/index.html", fund=fund, as_of=as_of, lines=lines,
        total_debit=sum(line.debit_cents for line in lines), total_credit=sum(line.credit_cents for line in lines),
        available=ledger.available_to_grant(fund, as_of), closed=ledger.closed_months(fund))


@bp.get("/export")
@roles_required(Role.TREASURER)
def export():
    fund = current_fund()
    fmt = request.args.get("format")
    start, end = _date_arg("from"), _date_arg("to")
    buffer = io.StringIO(newline="")
    if fmt == "csv":
        buffer.write("\ufeff")  # a BOM so Excel reads UTF-8
        exports.write_csv(fund, buffer, start, end)
        mimetype, suffix = "text/csv", "csv"
    elif fmt == "beancount":
        exports.write_beancount(fund, buffer, start, end)
        mimetype, suffix = "text/plain", "beancount"
    else:
        abort(400)
    span = "-".join(d.isoformat() for d in (start, end) if d) or "all"
    return Response(buffer.getvalue(), mimetype=f"{mimetype}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{fund.slug}-ledger-{span}.{suffix}"'})
