"""The public home page, the language switch and ``/healthz``."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session
from flask_login import current_user

from fundapp import health
from fundapp.donations.services import donor_wall, public_totals
from fundapp.extensions import db
from fundapp.funds.services import current_fund
from fundapp.policy import public

bp = Blueprint("main", __name__)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only follow links back into this site (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target \
            or any(not ch.isprintable() for ch in target):  # CR, LF and other control characters never go in a header
        return default
    return target


@bp.get("/")
@public
def home():
    fund = current_fund()
    totals = public_totals(fund)
    percent = min(100, totals.raised_cents * 100 // totals.goal_cents) if totals.goal_cents else 0
    return render_template("main/home.html", fund=fund, totals=totals, percent=max(percent, 0),
                           wall=donor_wall(fund))


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
