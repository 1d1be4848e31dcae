"""The public home page, the language switch, ``/healthz`` and ``/metrics``."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, session
from flask_login import current_user

from fundapp import health, metrics
from fundapp.donations.giving import donor_wall, public_totals
from fundapp.extensions import db
from fundapp.funds.services import current_fund, other_funds
from fundapp.main.gauges import DatabaseGauges
from fundapp.policy import public
from fundapp.web import safe_next

bp = Blueprint("main", __name__)


@bp.get("/")
@public
def home():
    fund = current_fund()
    totals = public_totals(fund)
    percent = min(100, totals.raised_cents * 100 // totals.goal_cents) if totals.goal_cents else 0
    return render_template("main/home.html", fund=fund, totals=totals, percent=max(percent, 0),
                           wall=donor_wall(fund), other_funds=other_funds(fund))


@bp.get("/about")
@public
def about():
    """The fund in plain words: who runs it, the rules, how to apply and how to give (from its settings)."""
    from fundapp.accounts.models import Role, RoleGrant, User
    from fundapp.applications.models import category_name
    from fundapp.applications.services import current_rules
    from fundapp.donations.giving import tax_statement

    fund = current_fund()
    people = db.session.execute(
        db.select(User.name, RoleGrant.role).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.fund_id == fund.id, RoleGrant.role.in_([Role.TRUSTEE, Role.TREASURER]),
               User.active.is_(True)).order_by(User.name)).all()
    rules = current_rules(fund)
    from fundapp.funds.services import receipt_placeholders

    contact = "" if "contact_email" in receipt_placeholders(fund) else fund.contact_email
    return render_template("main/about.html", fund=fund, rules=rules, tax_statement=tax_statement(fund),
                           contact=contact,
                           trustees=sorted({name for name, role in people if role == Role.TRUSTEE}),
                           treasurers=sorted({name for name, role in people if role == Role.TREASURER}),
                           categories=[category_name(key) for key in rules.categories])


@bp.post("/language")
@public
def set_language():
    language = request.form.get("language", "")
    if language in current_app.config["LANGUAGES"]:
        session["language"] = language
        if current_user.is_authenticated and current_user.language != language:
            current_user.language = language
            db.session.commit()
    return redirect(safe_next(request.form.get("next")))


@bp.get("/healthz")
@public
def healthz():
    """200 while every part is healthy, else 503 naming the failing parts (``fundapp.health``)."""
    healthy, report = health.check()
    return jsonify(report), 200 if healthy else 503


@bp.get("/metrics")
@public  # to the access policy; its own gate is the token or this machine (``metrics.allowed``)
def metrics_page():
    """The counters of every process on this host and the database's gauges, in Prometheus' text format."""
    if not metrics.allowed(request):
        abort(403)
    return Response(metrics.exposition(DatabaseGauges()), content_type=metrics.CONTENT_TYPE)
