"""The treasurer's home (/admin/): people, the mail outbox and the Stripe notices waiting to be booked, with
the buttons that send the mail and book the notices now. It gathers several domains, so it lives here, above
them, on the ``admin`` blueprint that accounts defines (its endpoints keep their names: ``admin.index``...)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import ngettext

from fundapp.accounts.admin_views import bp
from fundapp.accounts.models import Member, Role, RoleGrant
from fundapp.donations import events
from fundapp.extensions import db
from fundapp.funds.mount import installation_slug
from fundapp.funds.services import current_fund
from fundapp.mail import MAX_ATTEMPTS, retry_now, waiting_messages
from fundapp.policy import roles_required


@bp.get("/")
@roles_required(Role.TREASURER)
def index():
    fund = current_fund()
    counts = {
        "users": db.session.scalar(db.select(db.func.count(db.distinct(RoleGrant.user_id))).filter_by(fund_id=fund.id)),
        "members": db.session.scalar(db.select(db.func.count(Member.id)).filter_by(fund_id=fund.id)),
        "on_strike": db.session.scalar(db.select(db.func.count(Member.id)).filter_by(fund_id=fund.id, on_strike=True)),
        "linked": db.session.scalar(db.select(db.func.count(Member.id)).where(
            Member.fund_id == fund.id, Member.user_id.is_not(None))),
    }
    # mail about a person's account (no fund) is the installation's: its own fund's treasurer sees it
    waiting, failed = waiting_messages(fund_id=fund.id, with_no_fund=fund.slug == installation_slug())
    events_waiting, events_failed = events.waiting_events(fund_id=fund.id)
    return render_template("admin/index.html", counts=counts, fund=fund, waiting=waiting, failed=failed,
                           max_attempts=MAX_ATTEMPTS, events_waiting=events_waiting, events_failed=events_failed,
                           max_event_attempts=events.MAX_ATTEMPTS)


@bp.post("/events/apply")
@roles_required(Role.TREASURER)
def apply_events():
    """Book the Stripe notices that wait, those that gave up included: the worker books them within seconds (this
    page never waits on Stripe, which may be slow or down)."""
    waiting = events.retry_now()
    db.session.commit()
    flash(ngettext("%(num)s notice will be booked within a few seconds. Reload this page to see whether it was.",
                   "%(num)s notices will be booked within a few seconds. Reload this page to see whether they were.",
                   waiting), "success")
    return redirect(url_for("admin.index"))


@bp.post("/mail/send")
@roles_required(Role.TREASURER)
def send_mail():
    """Try the waiting mail again now: the worker sends it within seconds (this page never waits on the mail
    server, which may be down or hanging)."""
    waiting = retry_now()
    db.session.commit()
    flash(ngettext("%(num)s message will be sent within a few seconds. Reload this page to see whether it went.",
                   "%(num)s messages will be sent within a few seconds. Reload this page to see whether they went.",
                   waiting), "success")
    return redirect(url_for("admin.index"))
