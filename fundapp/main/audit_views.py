"""The audit trail for trustees and the treasurer: browse, filter, and check the chain."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from fundapp.accounts.models import Role, User
from fundapp.audit import services, words
from fundapp.extensions import db
from fundapp.funds.services import current_fund
from fundapp.policy import roles_required
from fundapp.web import date_arg, int_arg

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 50


def _text_arg(name: str) -> str | None:
    return request.args.get(name, "").strip()[:60] or None


@bp.get("/")
@roles_required(Role.TRUSTEE, Role.TREASURER)
def index():
    fund = current_fund()
    where = services.AuditFilter(
        action=_text_arg("action"), object_type=_text_arg("object_type"), object_id=_text_arg("object_id"),
        actor_id=int_arg("actor"), start=date_arg("from"), end=date_arg("to"))
    before_id = int_arg("before")
    records = services.search_records(fund, where, before_id=before_id, limit=PAGE_SIZE + 1)
    more = len(records) > PAGE_SIZE
    records = records[:PAGE_SIZE]
    people = db.session.execute(db.select(User.id, User.name).where(User.id.in_(services.actors_of(fund.id)))
                                .order_by(User.name, User.id)).all()  # the person filter's choices, by name
    chain = services.verify_chain() if request.args.get("verify") else None
    filters = {k: v for k, v in request.args.items() if k not in ("before", "verify") and v}
    actions = sorted(services.known_actions(fund.id), key=lambda a: words.action_name(a).lower())
    return render_template("audit/index.html", records=records, names=dict(people), people=people, where=where,
                           filters=filters, actions=actions, chain=chain, words=words, fund_currency=fund.currency,
                           next_before=records[-1].id if more else None)
