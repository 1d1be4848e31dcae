"""fundapp: a union's strike hardship fund, end to end.

``create_app`` builds the Flask application: settings, extensions, the access
policy that runs before every request, blueprints, error pages and commands.
"""
from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, g, has_request_context, render_template, request, session
from flask.cli import AppGroup, FlaskGroup
from flask_babel import get_locale
from flask_login import current_user

from fundapp.config import load_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Our pages load only our own files: no inline script or style, no outside hosts, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class FundApp(Flask):
    def log_exception(self, exc_info) -> None:  # type: ignore[no-untyped-def]
        """Flask's line for a failed request names its path, which may hold a token (a thanks page, a sign-in
        link): ours names the route's rule, as every other line does."""
        rule = request.url_rule.rule if request.url_rule else "(no route)"
        self.logger.error("Exception on %s [%s]", rule, request.method, exc_info=exc_info)


def create_app(test_config: dict | None = None) -> Flask:
    app = FundApp(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.cli = _Commands(app)
    app.config.from_mapping(load_settings(app.instance_path, test_config))
    os.makedirs(app.instance_path, exist_ok=True)
    from fundapp import logs, metrics

    logs.init_app(app)  # first: every later line is in the configured format
    if app.config["SENTRY_DSN"]:  # before the first request or command can fail; the SDK is loaded only then
        from fundapp import error_reports

        error_reports.init_app(app)
    metrics.init_app(app)  # every request counted and timed (by the clock logs starts)
    _init_extensions(app)
    _register_blueprints(app)
    from fundapp import throttle

    throttle.init_app(app)  # after the blueprints: it wraps their views
    _register_request_hooks(app)
    _register_error_pages(app)
    _register_template_helpers(app)
    from fundapp.cli import fund_cli

    app.cli.add_command(fund_cli)
    if not _under_flask_cli():  # a web server: see _under_flask_cli for the commands
        from fundapp.db_roles import guard_database_role

        guard_database_role(app)
    if not app.debug and not app.testing:
        app.logger.setLevel(logging.INFO)
    return app


def init_migrations(app: Flask) -> None:
    """Flask-Migrate on ``app``, once: what ``flask db`` and ``flask_migrate.upgrade()`` need. ``create_app``
    leaves it to them (``flask db`` calls this when asked for): it imports Alembic, 11 MB and half a second that
    the pages and the ``fund`` commands never use."""
    if "migrate" not in app.extensions:
        from flask_migrate import Migrate

        from fundapp.extensions import db

        Migrate(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)


class _Commands(AppGroup):
    """The app's commands (``app.cli``), where ``db`` (Flask-Migrate's) is set up only when it is asked for."""

    def __init__(self, app: Flask):
        super().__init__(app.name)
        self._app = app

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "db":
            init_migrations(self._app)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "db"})


def _under_flask_cli() -> bool:
    """Whether the ``flask`` command is loading the app. A web server (gunicorn) is not, and in production
    refuses to start as a database role that could rewrite the books (``db_roles.guard_database_role``);
    under the ``flask`` command the ``fund`` commands check that themselves (the worker and cron jobs),
    while ``flask db upgrade`` runs as the owner role the migrations need."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and isinstance(ctx.find_root().command, FlaskGroup)


def _select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # commands speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    if session.get("language") in languages:
        return session["language"]
    return request.accept_languages.best_match(languages) or "en"


def _init_extensions(app: Flask) -> None:
    from fundapp import models  # noqa: F401  (every model registered before migrations look)
    from fundapp.extensions import babel, csrf, db, login_manager
    from fundapp.funds.mount import FundMount

    app.wsgi_app = FundMount(app.wsgi_app)  # type: ignore[method-assign]  # /f/<slug>/: each fund's pages
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    login_manager.init_app(app)
    from fundapp.accounts.sessions import load_user

    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    from flask_babel import lazy_gettext

    login_manager.login_message = lazy_gettext("Please sign in to see that page.")
    login_manager.login_message_category = "info"

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Foreign keys on; WAL with synchronous=FULL so a committed gift survives power loss."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _register_blueprints(app: Flask) -> None:
    from fundapp.accounts.admin_views import bp as admin_bp
    from fundapp.accounts.views import bp as accounts_bp
    from fundapp.applications.views import bp as applications_bp
    from fundapp.bank.views import bp as bank_bp
    from fundapp.donations.admin_views import bp as donations_admin_bp
    from fundapp.donations.portal_views import bp as donor_bp
    from fundapp.donations.views import bp as donations_bp
    from fundapp.host.views import bp as host_bp
    from fundapp.ledger.views import bp as ledger_bp
    from fundapp.main import treasurer_views  # noqa: F401  (the treasurer's home, on the admin blueprint)
    from fundapp.main.audit_views import bp as audit_bp
    from fundapp.main.views import bp as main_bp
    from fundapp.privacy import views as privacy_views  # noqa: F401  (the member's data, on the applications blueprint)
    from fundapp.reporting.views import bp as reporting_bp
    from fundapp.review import member_views  # noqa: F401  (the member's award letter, on the applications blueprint)
    from fundapp.review.views import bp as review_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(ledger_bp)
    app.register_blueprint(bank_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(donations_bp)
    app.register_blueprint(donations_admin_bp)
    app.register_blueprint(donor_bp)
    app.register_blueprint(applications_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(reporting_bp)
    app.register_blueprint(host_bp)


def _register_request_hooks(app: Flask) -> None:
    from fundapp.policy import enforce_access
    from fundapp.web import refuse_nul_bytes

    @app.before_request
    def assign_request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if 8 <= len(incoming) <= 40 and incoming.isalnum() else uuid.uuid4().hex

    app.before_request(refuse_nul_bytes)
    app.before_request(enforce_access)

    @app.after_request
    def tag_response(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if app.config["ENV_NAME"] == "production":  # two years; the TLS proxy must serve every subdomain too
            response.headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        return response


def _register_error_pages(app: Flask) -> None:
    """Our own pages for errors, in the user's language, never with a stack trace."""
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    from fundapp.extensions import db
    from fundapp.funds.models import FundNotInitialised

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        if e.code is None or e.code < 400:
            return e
        return render_template("errors/error.html", code=e.code, csrf=isinstance(e, CSRFError)), e.code

    @app.errorhandler(FundNotInitialised)
    def not_set_up(e: FundNotInitialised):
        """``fund init`` has not run: say so (the operator's fix is in the log), and write nothing."""
        db.session.rollback()
        app.logger.error("%s", e)
        return render_template("errors/error.html", code=503, not_set_up=True), 503

    @app.errorhandler(500)
    def server_error(e):
        db.session.rollback()
        return render_template("errors/error.html", code=500), 500


def _register_template_helpers(app: Flask) -> None:
    from sqlalchemy.exc import SQLAlchemyError
    from werkzeug.exceptions import NotFound

    from fundapp.extensions import db
    from fundapp.funds import clock
    from fundapp.funds.models import FundNotInitialised
    from fundapp.funds.services import current_fund
    from fundapp.policy import can_visit
    from fundapp.web import money_text

    def fund_name() -> str:
        try:
            return current_fund().name
        except (SQLAlchemyError, FundNotInitialised, NotFound):  # database down, `fund init` not run, or an address
            db.session.rollback()                                # naming no fund (/f/<slug>/): still show a page
            return app.config["FUND_DEFAULTS"]["name"]

    def funds_of_user() -> list[tuple[str, str, bool]]:
        """(name, path, is this one) of each fund the signed-in person holds a role in, when more than one: the
        switch between them at the top of every page."""
        if not current_user.is_authenticated:
            return []
        fund_ids = {grant.fund_id for grant in current_user.grants}
        if len(fund_ids) < 2:
            return []
        from fundapp.funds.models import Fund
        from fundapp.funds.mount import fund_path

        here = current_fund().id
        return [(name, fund_path(slug), fund_id == here) for fund_id, name, slug in db.session.execute(
            db.select(Fund.id, Fund.name, Fund.slug).where(Fund.id.in_(fund_ids)).order_by(Fund.name))]

    @app.context_processor
    def inject():
        return {"can_visit": can_visit, "fund_name": fund_name, "current_locale": get_locale,
                "funds_of_user": funds_of_user}

    @app.template_filter("money")
    def money_filter(cents: int, currency: str = "USD") -> str:
        return money_text(cents, currency)

    @app.template_filter("status_name")
    def status_name_filter(status: str) -> str:
        from fundapp.applications.states import status_name

        return status_name(status)

    @app.template_filter("gift_status")
    def gift_status_filter(status: str) -> str:
        from fundapp.donations.models import GIFT_STATUS_NAMES

        return str(GIFT_STATUS_NAMES.get(status, status))

    @app.template_filter("action_name")
    def action_name_filter(action: str) -> str:
        from fundapp.audit.words import action_name

        return action_name(action)

    @app.template_filter("longdate")
    def longdate_filter(day) -> str:
        """A date for people, in the page's language: "November 3, 2026" / "3 de noviembre de 2026"; a
        timestamp is first put on the fund's calendar (its time zone)."""
        from flask_babel import format_date

        if isinstance(day, datetime):
            day = clock.local_date(current_fund(), day)
        return format_date(day, "long") if day else ""

    @app.template_filter("localdate")
    def localdate_filter(moment):
        """A timestamp's day on the fund's calendar."""
        return clock.local_date(current_fund(), moment) if moment else ""

    @app.template_filter("localtime")
    def localtime_filter(moment) -> str:
        """A timestamp at the fund's wall clock with its zone: "2026-11-30 16:00 PST"."""
        return clock.stamp(current_fund(), moment) if moment else ""
