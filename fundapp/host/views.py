"""The host's pages: every fund of the installation with what it can grant, opening a fund, and the payments
that named no fund (to be assigned)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fundapp.donations import events, filing
from fundapp.donations.models import StripeEvent
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.funds.mount import fund_path
from fundapp.host.forms import AssignForm, OpenFundForm
from fundapp.ledger import exports
from fundapp.ledger import services as ledger
from fundapp.ledger.balances import available_to_grant
from fundapp.policy import operator_required
from fundapp.reporting.figures import PACE_DAYS, pace, runway
from fundapp.setup import OpenFundError, open_fund
from fundapp.web import download, show_error

bp = Blueprint("host", __name__, url_prefix="/host")


@bp.get("/")
@operator_required
def index():
    """Every fund: where its pages are, its status, what it can grant and when that runs out at its pace."""
    rows = []
    for fund in _funds():
        today = clock.today(fund)
        available = available_to_grant(fund, today)
        rows.append((fund, fund_path(fund.slug), available, runway(available, pace(fund, today), PACE_DAYS, today)))
    waiting, failed = events.waiting_events()
    return render_template("host/index.html", rows=rows, unassigned=len(filing.unassigned_events()),
                           events_waiting=waiting, events_failed=len(failed),
                           total_available=sum(row[2] for row in rows))


def _funds() -> list[Fund]:
    return list(db.session.scalars(db.select(Fund).order_by(Fund.name)))


@bp.get("/books")
@operator_required
def books():
    """The consolidated trial balance: each account's balance in each fund (a column each) and their sum. Each
    fund's column balances alone; the host's clearing accounts cancel out in the sum."""
    funds = _funds()
    by_fund = {fund.id: ledger.balances(fund) for fund in funds}
    names = sorted({name for totals in by_fund.values() for name in totals},
                   key=lambda name: (ACCOUNT_ORDER.index(name.split(":")[0]), name))
    rows = [(name, [by_fund[fund.id].get(name, 0) for fund in funds],
             sum(by_fund[fund.id].get(name, 0) for fund in funds)) for name in names]
    columns = [sum(totals.values()) for totals in by_fund.values()]
    return render_template("host/books.html", funds=funds, rows=rows, columns=columns,
                           currency=funds[0].currency if funds else "USD")


ACCOUNT_ORDER = ["Assets", "Liabilities", "Equity", "Income", "Expenses"]


@bp.get("/books.beancount")
@operator_required
def books_beancount():
    """The host's books in Beancount: each fund its own account tree, so bean-check checks every fund and the sum."""
    from io import StringIO

    out = StringIO()
    exports.write_host_beancount(_funds(), f"{current_app.config['FUND_DEFAULTS']['name']}: every fund", out)
    return download(out.getvalue(), "host-books.beancount", "text/plain; charset=utf-8")


@bp.route("/funds/new", methods=["GET", "POST"])
@operator_required
def open_fund_page():
    form = OpenFundForm()
    if form.validate_on_submit():
        try:
            done = open_fund(form.settings(), treasurer_email=form.treasurer_email.data,
                             treasurer_name=form.treasurer_name.data, actor=current_user)
        except OpenFundError as exc:
            db.session.rollback()
            show_error(form, exc, "slug")
        else:
            db.session.commit()
            flash(_("%(fund)s is open, at %(path)s. %(email)s is its treasurer.", fund=done.fund.name,
                    path=fund_path(done.fund.slug), email=done.treasurer.email), "success")
            return redirect(url_for("host.index"))
    return render_template("host/open_fund.html", form=form)


@bp.get("/unassigned")
@operator_required
def unassigned():
    funds = db.session.scalars(db.select(Fund).order_by(Fund.name)).all()
    rows = []
    for event in filing.unassigned_events():
        form = AssignForm(prefix=event.id)
        form.fund.choices = [(fund.slug, fund.name) for fund in funds]
        rows.append((event, form))
    return render_template("host/unassigned.html", rows=rows)


@bp.post("/unassigned/<event_id>")
@operator_required
def assign(event_id: str):
    event = db.session.get(StripeEvent, event_id)
    if event is None or event.outcome != filing.UNASSIGNED:
        abort(404)
    form = AssignForm(prefix=event.id)
    form.fund.choices = [(slug, slug) for slug in db.session.scalars(db.select(Fund.slug))]
    if not form.validate_on_submit():
        flash(_("Choose the fund to file the payment under."), "error")
        return redirect(url_for("host.unassigned"))
    fund = db.session.scalar(db.select(Fund).filter_by(slug=form.fund.data))
    filing.assign_event(event, fund, actor=current_user)
    db.session.commit()
    flash(_("The payment is filed under %(fund)s: it is booked there within a minute.", fund=fund.name), "success")
    return redirect(url_for("host.unassigned"))


@bp.get("/audit")
@operator_required
def audit():
    """The audit records that belong to no fund (a person's sign-in and password, an operator's rights, what the
    account as a whole did): the operators' alone, as each fund's trail is its trustees'."""
    from fundapp.accounts.models import User
    from fundapp.audit import services as audit_services
    from fundapp.audit import words
    from fundapp.web import int_arg

    records = audit_services.search_records(None, audit_services.AuditFilter(), before_id=int_arg("before"),
                                            limit=AUDIT_PAGE + 1)
    more = len(records) > AUDIT_PAGE
    records = records[:AUDIT_PAGE]
    names = dict(db.session.execute(db.select(User.id, User.name).where(
        User.id.in_({r.actor_id for r in records if r.actor_id}))).all())
    return render_template("host/audit.html", records=records, names=names, words=words,
                           next_before=records[-1].id if more else None)


AUDIT_PAGE = 50
