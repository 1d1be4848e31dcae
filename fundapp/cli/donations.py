"""Donations: booking what Stripe holds that the books lack, donors' year-end statements, and deciding a test
dispute in local mode."""
from __future__ import annotations

from datetime import timedelta

import click

from fundapp.cli.base import every_fund_or_named, fail, fund_cli, installed_fund
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import services as ledger
from fundapp.mail import deliver_pending


@fund_cli.command("reconcile-stripe")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Look at charges from this day (default: 35 days ago).")
def reconcile_stripe_command(since):
    """Book every Stripe charge and refund the books lack; safe to repeat (e.g. from cron)."""
    from fundapp.donations.booking import reconcile_stripe
    from fundapp.donations.giving import DonationError, close_stale_checkouts
    from fundapp.payments.facts import RetryLater

    fund = installed_fund()
    start = clock.start_of(fund, since.date()) if since else clock.now() - timedelta(days=35)
    try:
        result = reconcile_stripe(fund, start)
    except (RetryLater, DonationError, ledger.LedgerError) as exc:
        fail(f"reconciliation stopped, nothing saved: {exc}")
    closed = close_stale_checkouts(fund)
    db.session.commit()
    deliver_pending()
    click.echo(f"Looked at {result.charges_seen} charges since {start:%Y-%m-%d}: booked {result.payments_booked} "
               f"payments, {result.refunds_booked} refunds, {result.disputes_booked} dispute movements and "
               f"{result.payouts_booked} payouts that were missing."
               + (f" {result.not_booked} stored Stripe events name objects Stripe does not confirm (or another API "
                  f"version): nothing of them is booked; see the treasurer's queue page." if result.not_booked else "")
               + (f" {result.named_no_fund} payments named no fund: the host assigns them at /host/unassigned."
                  if result.named_no_fund else "")
               + (f" Closed {closed} gifts left at a checkout that has expired." if closed else ""))


@fund_cli.command("send-statements")
@click.option("--year", type=int, required=True, help="The year of the gifts (e.g. last year, in January).")
def send_statements_command(year):
    """Queue every donor's year-end statement for the mail worker; stop it any time and run it again: nobody
    gets two. It may run while the app runs (and the treasurer sends from the page): each donor is one short write."""
    from fundapp.donations import receipts

    funds = every_fund_or_named()
    for fund in funds:  # every fund's donors (or the one --fund names): one timer serves them all
        where = "" if len(funds) == 1 else f"{fund.name}: "
        due = receipts.statement_progress(fund, year).due
        if not due:
            click.echo(f"{where}Every donor with gifts in {year} already has their statement.")
            continue
        queued = 0
        with click.progressbar(length=due, label=f"{where}Statements for {year}", show_pos=True) as bar:
            for done in receipts.send_due_statements(fund, year):
                queued += done
                db.session.commit()  # one donor at a time: an interrupted run loses nothing and repeats nothing
                bar.update(1)
        progress = receipts.statement_progress(fund, year)
        click.echo(f"{where}Queued {queued} statements for {year} ({progress.queued} in all, {progress.delivered} "
                   "delivered so far); the mail worker (flask fund worker, or run-local) sends them.")


@fund_cli.command("test-dispute")
@click.argument("dispute_id")
@click.option("--won/--lost", required=True, help="Whether the fund wins the dispute.")
def test_dispute_command(dispute_id, won):
    """Local mode only: decide a test dispute as the cardholder's bank would (card 4000 0000 0000 0259)."""
    from fundapp.payments import gateway, test_mode

    try:
        status = test_mode.decide_test_dispute(dispute_id, won)
    except (gateway.GatewayError, gateway.LocalModeUnsafe) as exc:
        fail(str(exc))
    click.echo(f"Dispute {dispute_id} is {status}; its events follow in about a second.")
