"""Loading a member's own application for their pages: the rule itself is ``policy.can_see_application``."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from fundapp.applications.models import Application
from fundapp.extensions import db
from fundapp.policy import can_see_application


def own_application(application_id: int) -> Application:
    """The signed-in member's own application, or a 404 (someone else's is as unknown as one that never was)."""
    application = db.session.get(Application, application_id)
    if application is None or application.applicant_id != current_user.id or not can_see_application(application):
        abort(404)
    return application
