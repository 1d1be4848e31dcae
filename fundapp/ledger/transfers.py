"""Money one fund of the installation gives another: a wound-down fund's balance moved to the local's next strike
fund, say.

The giving fund's treasurer proposes it; a trustee of each fund approves it (never the proposer); the second
approval books it, in both funds' books at once, through the host's clearing accounts (``HOST_CLEARING``):

- the giving fund: Expenses:TransfersToOtherFunds against its clearing account (the money the host holds for it
  goes down; for the host's own fund, what its bank owes the others goes up);
- the receiving fund: its clearing account against Income:TransfersFromOtherFunds.

Each fund's entry balances alone; across the funds the two clearing postings and the expense and income cancel
out, so the host's consolidated books see no money made or lost. The check that the giving fund has the money and
the booking happen under the row lock of the transfer and then of both funds (in id order), so two trustees
approving at the same moment book it once, and two transfers never spend the same money twice.
"""
from __future__ import annotations

from flask_babel import gettext as _

from fundapp.accounts.models import Role, User
from fundapp.audit.services import record_change
from fundapp.extensions import db, utcnow
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.funds.mount import installation_slug
from fundapp.ledger.balances import available_to_grant
from fundapp.ledger.models import FundTransfer
from fundapp.ledger.posting import open_account, post_entry
from fundapp.money import money_text

TRANSFERS_OUT = "Expenses:TransfersToOtherFunds"
TRANSFERS_IN = "Income:TransfersFromOtherFunds"


class TransferError(ValueError):
    def __init__(self, message: str, field: str = "amount"):
        super().__init__(message)
        self.field = field


def clearing_account(fund: Fund) -> str:
    """Where a fund's money held across funds sits: the host's own fund (the installation's) owes it
    (a liability); every other fund is owed it by the host (an asset)."""
    return "Liabilities:HostClearing" if fund.slug == installation_slug() else "Assets:HostClearing"


def transfers_of(fund: Fund) -> list[FundTransfer]:
    """Every transfer the fund gives or receives, newest first."""
    return list(db.session.scalars(db.select(FundTransfer).where(
        db.or_(FundTransfer.from_fund_id == fund.id, FundTransfer.to_fund_id == fund.id))
        .order_by(FundTransfer.id.desc())))


def waiting_for(fund: Fund) -> int:
    """How many transfers wait for this fund's approval (for its trustees' queue)."""
    open_ = db.and_(FundTransfer.booked_at.is_(None), FundTransfer.withdrawn_at.is_(None))
    return db.session.scalar(db.select(db.func.count(FundTransfer.id)).where(open_, db.or_(
        db.and_(FundTransfer.from_fund_id == fund.id, FundTransfer.from_approved_at.is_(None)),
        db.and_(FundTransfer.to_fund_id == fund.id, FundTransfer.to_approved_at.is_(None))))) or 0


def transfer_of(fund: Fund, transfer_id: int) -> FundTransfer | None:
    """A transfer the fund gives or receives; None for any other (another pair of funds' is not found)."""
    transfer = db.session.get(FundTransfer, transfer_id)
    if transfer is None or fund.id not in (transfer.from_fund_id, transfer.to_fund_id):
        return None
    return transfer


def propose_transfer(from_fund: Fund, to_fund: Fund | None, amount_cents: int, memo: str, *,
                     actor: User) -> FundTransfer:
    """The giving fund's treasurer proposes a transfer (flushes); nothing is booked until both funds approve."""
    if to_fund is None or to_fund.id == from_fund.id:
        raise TransferError(_("Choose another fund of this installation to give to."), "to_fund")
    if to_fund.currency != from_fund.currency:
        raise TransferError(_("The two funds keep their books in different currencies."), "to_fund")
    if amount_cents <= 0:
        raise TransferError(_("Enter an amount above zero."))
    if not memo.strip():
        raise TransferError(_("Say why the money moves (the trustees of both funds read it)."), "memo")
    available = available_to_grant(from_fund)
    if amount_cents > available:
        raise TransferError(_("The fund has %(available)s available to give (its cash, less grants approved and "
                              "unpaid, less the reserve).", available=money_text(available, from_fund.currency)))
    transfer = FundTransfer(from_fund_id=from_fund.id, to_fund_id=to_fund.id, amount_cents=amount_cents,
                            memo=memo.strip()[:300], proposed_by_id=actor.id, proposed_at=utcnow())
    db.session.add(transfer)
    db.session.flush()
    for fund in (from_fund, to_fund):
        record_change("transfer.propose", "fund_transfer", transfer.id, actor=actor, fund_id=fund.id,
                      after={"from": from_fund.slug, "to": to_fund.slug, "amount_cents": amount_cents,
                             "memo": transfer.memo})
    return transfer


def approve_transfer(transfer_id: int, fund: Fund, *, actor: User) -> FundTransfer:
    """A trustee of ``fund`` approves its side of the transfer (flushes); the second side's approval books it in
    both funds' books. Holds the transfer's row lock from the check to the booking."""
    transfer = db.session.scalar(db.select(FundTransfer).where(FundTransfer.id == transfer_id)
                                 .with_for_update().execution_options(populate_existing=True))
    if transfer is None or fund.id not in (transfer.from_fund_id, transfer.to_fund_id):
        raise TransferError(_("No such transfer for this fund."), "transfer")
    if transfer.withdrawn_at is not None or transfer.booked_at is not None:
        raise TransferError(_("This transfer is already settled."), "transfer")
    if Role.TRUSTEE not in actor.roles_in(fund.id):
        raise TransferError(_("Only a trustee of the fund approves its side of a transfer."), "transfer")
    if actor.id == transfer.proposed_by_id:
        raise TransferError(_("Someone other than the person who proposed it approves a transfer."), "transfer")
    side = "from" if fund.id == transfer.from_fund_id else "to"
    if getattr(transfer, f"{side}_approved_at") is not None:
        raise TransferError(_("This fund has already approved the transfer."), "transfer")
    other_side = "to" if side == "from" else "from"
    completes = getattr(transfer, f"{other_side}_approved_at") is not None
    # the funds' rows before the audit trail's lock (which the approval's record takes): the order every
    # spending decision locks in, so this never waits on a grant approval that waits on it
    funds = _lock_funds(transfer) if completes else None
    setattr(transfer, f"{side}_approved_by_id", actor.id)
    setattr(transfer, f"{side}_approved_at", utcnow())
    db.session.flush()
    record_change("transfer.approve", "fund_transfer", transfer.id, actor=actor, fund_id=fund.id,
                  after={"side": side})
    if funds is not None:
        _book(transfer, funds, actor)
    return transfer


def _lock_funds(transfer: FundTransfer) -> dict[int, Fund]:
    """Both funds' rows, locked in id order (as every spending decision locks its fund)."""
    return {locked.id: locked for locked in db.session.scalars(
        db.select(Fund).where(Fund.id.in_([transfer.from_fund_id, transfer.to_fund_id])).order_by(Fund.id)
        .with_for_update())}


def withdraw_transfer(transfer_id: int, fund: Fund, *, actor: User) -> None:
    """The giving fund's treasurer withdraws a transfer not yet booked (flushes)."""
    transfer = db.session.scalar(db.select(FundTransfer).where(FundTransfer.id == transfer_id).with_for_update()
                                 .execution_options(populate_existing=True))
    if transfer is None or transfer.from_fund_id != fund.id:
        raise TransferError(_("No such transfer for this fund."), "transfer")
    if transfer.booked_at is not None or transfer.withdrawn_at is not None:
        raise TransferError(_("This transfer is already settled."), "transfer")
    transfer.withdrawn_at = utcnow()
    db.session.flush()
    for fund_id in (transfer.from_fund_id, transfer.to_fund_id):
        record_change("transfer.withdraw", "fund_transfer", transfer.id, actor=actor, fund_id=fund_id)


def _book(transfer: FundTransfer, funds: dict[int, Fund], actor: User) -> None:
    """Book the approved transfer in both funds (their rows locked by the caller), once, the giving fund's money
    checked again under the lock."""
    giver, receiver = funds[transfer.from_fund_id], funds[transfer.to_fund_id]
    available = available_to_grant(giver)
    if transfer.amount_cents > available:
        raise TransferError(_("The giving fund has only %(available)s available now: the transfer cannot be booked.",
                              available=money_text(available, giver.currency)))
    cents, memo = transfer.amount_cents, f"Transfer {transfer.id} to {receiver.name}: {transfer.memo}"
    for fund, name in ((giver, TRANSFERS_OUT), (receiver, TRANSFERS_IN), (giver, clearing_account(giver)),
                       (receiver, clearing_account(receiver))):
        open_account(fund, name)
    post_entry(giver, entry_date=clock.today(giver), memo=memo, source_kind="fund.transfer",
               source_id=transfer.id, actor=actor, postings=[(TRANSFERS_OUT, cents), (clearing_account(giver), -cents)])
    post_entry(receiver, entry_date=clock.today(receiver),
               memo=f"Transfer {transfer.id} from {giver.name}: {transfer.memo}", source_kind="fund.transfer",
               source_id=transfer.id, actor=actor, postings=[(clearing_account(receiver), cents), (TRANSFERS_IN, -cents)])
    transfer.booked_at = utcnow()
    db.session.flush()
    for fund in (giver, receiver):
        record_change("transfer.book", "fund_transfer", transfer.id, actor=actor, fund_id=fund.id,
                      after={"amount_cents": cents})
