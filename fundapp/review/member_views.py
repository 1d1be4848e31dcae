"""The member's own award letter. The route stays on the applications blueprint
(``applications.award_letter``, at ``/my/<id>/award.pdf``, beside the member's other pages); it is defined
here since the letter is review's document and review stands above applications."""
from __future__ import annotations

from flask import abort

from fundapp.accounts.models import Role
from fundapp.applications.access import own_application
from fundapp.applications.views import bp
from fundapp.funds.services import current_fund
from fundapp.policy import roles_required
from fundapp.review.documents import award_letter as build
from fundapp.web import download


@bp.get("/my/<int:application_id>/award.pdf")
@roles_required(Role.APPLICANT)
def award_letter(application_id):
    """The member's own award letter, in their language, once a grant is approved."""
    application = own_application(application_id)
    if application.amount_approved_cents is None:
        abort(404)
    return download(build(current_fund(), application), f"award-{application.id}.pdf")
