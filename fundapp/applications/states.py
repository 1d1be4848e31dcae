"""The application state machine (DESIGN 5): one table of allowed moves, one function to make them.

draft -> submitted -> in_review -> (info_requested <-> in_review) -> approved | partially_approved | denied;
approved and partially_approved -> paid (and back, when a payment is voided); withdrawn from any open
state. Anything else is refused.
"""
from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l

from fundapp.audit.services import record_change


class Status(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    INFO_REQUESTED = "info_requested"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    DENIED = "denied"
    PAID = "paid"
    WITHDRAWN = "withdrawn"


#: Each status in a word or two, for lists and the trustees' pages (the member's page says it in a sentence).
STATUS_NAMES = {Status.DRAFT: _l("Draft"), Status.SUBMITTED: _l("Submitted"), Status.IN_REVIEW: _l("In review"),
                Status.INFO_REQUESTED: _l("Question asked"), Status.APPROVED: _l("Approved"),
                Status.PARTIALLY_APPROVED: _l("Approved in part"), Status.DENIED: _l("Denied"),
                Status.PAID: _l("Paid"), Status.WITHDRAWN: _l("Withdrawn")}


def status_name(status: str) -> str:
    """A status's name in the page's language (the ``status_name`` filter); an unknown one as it is."""
    return str(STATUS_NAMES.get(status, status))  # type: ignore[call-overload]


#: Still being decided: the member may withdraw, and it counts against "one open application".
OPEN = frozenset({Status.DRAFT, Status.SUBMITTED, Status.IN_REVIEW, Status.INFO_REQUESTED})
#: Submitted and not yet decided.
PENDING = frozenset({Status.SUBMITTED, Status.IN_REVIEW, Status.INFO_REQUESTED})
GRANTED = frozenset({Status.APPROVED, Status.PARTIALLY_APPROVED, Status.PAID})

TRANSITIONS: frozenset[tuple[Status, Status]] = frozenset({
    (Status.DRAFT, Status.SUBMITTED),
    (Status.SUBMITTED, Status.IN_REVIEW),
    (Status.IN_REVIEW, Status.INFO_REQUESTED),
    (Status.INFO_REQUESTED, Status.IN_REVIEW),
    (Status.IN_REVIEW, Status.APPROVED),
    (Status.IN_REVIEW, Status.PARTIALLY_APPROVED),
    (Status.IN_REVIEW, Status.DENIED),
    (Status.APPROVED, Status.PAID),
    (Status.PARTIALLY_APPROVED, Status.PAID),
    # A void of the last payment (a bounced cheque) makes a paid grant owed again.
    (Status.PAID, Status.APPROVED),
    (Status.PAID, Status.PARTIALLY_APPROVED),
    *((state, Status.WITHDRAWN) for state in OPEN),
})


class InvalidTransition(ValueError):
    pass


def transition(application, to: Status, *, actor=None, **details) -> None:
    """Move ``application`` to ``to`` if the table allows it, and audit the move (flushes nothing)."""
    current = Status(application.status)
    if (current, to) not in TRANSITIONS:
        raise InvalidTransition(f"an application cannot go from {current} to {to}")
    application.status = to
    record_change(f"application.{to}", "application", application.id, actor=actor, fund_id=application.fund_id,
                  before={"status": current}, after={"status": to, **details})
