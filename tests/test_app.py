"""The app factory, settings, health check, error pages and the SQLite settings."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from fundapp import create_app
from fundapp.config import DEV_AUDIT_KEY, DEV_SECRET_KEY, ConfigError, normalise_database_url
from fundapp.extensions import db
from tests.conftest import base_config, production_env, unprivileged_url


def test_create_app_with_test_config_uses_it(database_url):
    app = create_app(base_config(database_url, BASE_URL="http://x.test"))
    assert app.testing is True
    assert app.config["BASE_URL"] == "http://x.test"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == database_url


def test_production_refuses_development_secret_key(monkeypatch, database_url):
    monkeypatch.setenv("FUNDAPP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", DEV_SECRET_KEY)
    monkeypatch.setenv("DATABASE_URL", database_url)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_production_refuses_missing_secret_key(monkeypatch, database_url):
    monkeypatch.setenv("FUNDAPP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    with pytest.raises(ConfigError):
        create_app()


def test_production_with_a_real_secret_starts_with_secure_cookies_and_hsts(monkeypatch, database_url):
    with unprivileged_url(database_url) as url:  # production refuses PostgreSQL's superuser (tests/test_db_roles.py)
        production_env(monkeypatch, url)
        app = create_app()
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
        assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/15"
        response = app.test_client().get("/healthz", base_url="https://fund.example.org")
        assert response.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
        with app.app_context():
            db.engine.dispose()


def test_development_sends_no_hsts(client):
    """HSTS on a laptop would pin 127.0.0.1 to HTTPS in the browser for two years."""
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


def test_settings_come_from_environment(monkeypatch, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FUND_NAME", "Local 42 Fund")
    monkeypatch.setenv("FUND_GOAL", "12,345.67")
    monkeypatch.setenv("FUND_CURRENCY", "usd")
    monkeypatch.setenv("MAIL_PORT", "2525")
    app = create_app()
    assert app.config["FUND_DEFAULTS"]["name"] == "Local 42 Fund"
    assert app.config["FUND_DEFAULTS"]["goal_cents"] == 1234567
    assert app.config["FUND_DEFAULTS"]["currency"] == "USD"
    assert app.config["MAIL_PORT"] == 2525


@pytest.mark.parametrize("given, expected", [
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_database_url_uses_psycopg3(given, expected):
    assert normalise_database_url(given) == expected


def test_healthz_reports_database_ok(client):
    from fundapp import health

    health.beat("test-worker")  # a worker is running
    response = client.get("/healthz")
    assert response.status_code == 200
    report = response.get_json()
    assert {k: report[k] for k in ("status", "failing", "database")} == {"status": "ok", "failing": [],
                                                                       "database": "ok"}
    assert report["worker"]["status"] == "ok" and report["worker"]["seconds_ago"] <= 5
    assert report["outbox"] == {"status": "ok", "waiting": 0}
    assert report["stripe_events"] == {"status": "ok", "waiting": 0}
    assert "redis" not in report  # none configured


def test_healthz_answers_503_when_database_is_down():
    # A real connection attempt to a port where nothing listens.
    app = create_app(base_config("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                 SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}}))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_database_connection_settings(app):
    """SQLite: foreign keys on, WAL, synchronous=FULL. PostgreSQL: UTF-8 and UTC sessions."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            assert conn.execute(sa.text("SHOW server_encoding")).scalar() == "UTF8"
            assert conn.execute(sa.text("SELECT now() - now() AT TIME ZONE 'UTC' IS NOT NULL")).scalar()
            return
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA synchronous")).scalar() == 2  # FULL


def test_unknown_page_is_our_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"We could not find that page" in response.data
    assert b"<html lang=\"en\">" in response.data


def test_server_error_page_hides_the_traceback(app, database_url):
    app = create_app(base_config(database_url, PROPAGATE_EXCEPTIONS=False))

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    boom._fundapp_access = __import__("fundapp.policy", fromlist=["PUBLIC"]).PUBLIC
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.data
    assert b"secret internals" not in response.data
    assert b"Traceback" not in response.data


def test_every_response_carries_a_request_id(client):
    first = client.get("/").headers["X-Request-ID"]
    second = client.get("/").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_pages_are_served_under_a_strict_content_security_policy(client, fund):
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    page = response.get_data(as_text=True)
    assert "<script" not in page and "style=" not in page and "<style" not in page
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name, value, message", [
    ("REDIS_URL", "", "REDIS_URL"),
    ("STRIPE_API_BASE", "http://127.0.0.1:8420", "STRIPE_API_BASE"),
    ("AUDIT_KEY", "", "AUDIT_KEY"),
    ("AUDIT_KEY", DEV_AUDIT_KEY, "AUDIT_KEY"),
    ("STRIPE_SECRET_KEY", "sk_test_local", "STRIPE_SECRET_KEY"),
    ("STRIPE_SECRET_KEY", "", "STRIPE_SECRET_KEY"),
    ("STRIPE_WEBHOOK_SECRET", "whsec_local", "STRIPE_WEBHOOK_SECRET"),
    ("STRIPE_WEBHOOK_SECRET", "", "STRIPE_WEBHOOK_SECRET"),
])
def test_production_refuses_placeholders_and_the_local_stripe_server(monkeypatch, database_url, name, value, message):
    production_env(monkeypatch, database_url)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        create_app()


@pytest.mark.parametrize("key, base, message", [
    ("sk_live_abc", "http://127.0.0.1:8420", "live key"),
    ("sk_test_abc", "http://stripe.example.com:8420", "loopback"),
])
def test_local_mode_refuses_a_live_key_or_a_remote_server(monkeypatch, database_url, key, base, message):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", key)
    monkeypatch.setenv("STRIPE_API_BASE", base)
    with pytest.raises(ConfigError, match=message):
        create_app()
