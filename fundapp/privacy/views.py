"""The member's download of everything the fund holds about them. The route stays on the applications
blueprint (``applications.my_data``, at ``/account/my-data.zip``); it is defined here, above applications and
review, whose data it gathers."""
from __future__ import annotations

from flask_login import current_user

from fundapp.applications.views import bp
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.services import current_fund
from fundapp.policy import signed_in
from fundapp.privacy.my_data import everything_about
from fundapp.web import download


@bp.get("/account/my-data.zip")
@signed_in
def my_data():
    """Everything the fund holds about the person signed in: their answers, conversation, decisions,
    payments, documents and the audit trail about them."""
    fund = current_fund()
    body = everything_about(current_user, fund)
    db.session.commit()
    response = download(body, f"my-data-{clock.today(fund).isoformat()}.zip", "application/zip")
    response.headers["Cache-Control"] = "private, no-store"
    return response
