"""Settings from environment variables (and an optional ``.env`` file).

Every setting the app reads is named here, with its default, so the README's
configuration table and this module can be checked against each other.
Production refuses to start with the development secret key or audit key, or without a mail server unless
MAIL_TO_LOG says mail goes to the log on purpose; it starts with the placeholder
EIN and contact (they only seed a new fund) but sends no receipt while the fund carries them.
"""
from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

from fundapp.money import parse_amount
from fundapp.payments.local_mode import LocalModeUnsafe, check_local_mode

DEV_SECRET_KEY = "dev-insecure-secret-change-me"  # nosec B105 # the development default; production refuses it
DEV_AUDIT_KEY = "dev-insecure-audit-key-change-me"  # nosec B105 # the development default; production refuses it
#: The EIN and contact a new fund gets when FUND_EIN / FUND_CONTACT_EMAIL are unset: production sends no receipt
#: while the fund still carries either (the treasurer sets the real ones on the fund page, /admin/fund).
PLACEHOLDER_EIN = "00-0000000"
PLACEHOLDER_CONTACT_EMAIL = "fund@localhost"

#: Settings read from the environment: name -> default (None: unset).
ENV_SETTINGS: dict[str, str | None] = {  # nosec B105 # local-mode defaults and names, no real secret; production refuses them
    "FUNDAPP_ENV": "development",
    "SECRET_KEY": DEV_SECRET_KEY,
    "AUDIT_KEY": DEV_AUDIT_KEY,
    "DATABASE_URL": None,
    "BASE_URL": "http://127.0.0.1:5000",
    "STRIPE_SECRET_KEY": "sk_test_local",
    "STRIPE_WEBHOOK_SECRET": "whsec_local",
    "STRIPE_API_BASE": None,
    "DOCUMENTS_DIR": None,
    "DOCUMENT_MAX_MB": "10",
    "DOCUMENTS_MAX_PER_MEMBER": "20",
    "DOCUMENTS_MAX_TOTAL_MB": "50",
    "STEP_UP_ABOVE": "1000.00",
    "DONATION_MIN": "1.00",
    "DONATION_MAX": "10000.00",
    "OFFLINE_GIFT_MAX": "1000000.00",  # a cheque or cash gift the treasurer records (a typo's guard)
    "CARD_FEE_PERCENT": "2.9",
    "CARD_FEE_FIXED": "0.30",
    "MAIL_SERVER": None,
    "MAIL_PORT": "25",
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": "false",
    "MAIL_USE_SSL": "false",
    "MAIL_DEFAULT_SENDER": "Hardship Fund <fund@localhost>",
    "MAIL_TIMEOUT": "10",
    "MAIL_TO_LOG": "false",
    "STAFF_IDLE_MINUTES": "30",
    "MEMBER_IDLE_MINUTES": "10080",
    "HEALTH_WORKER_STALE_SECONDS": "120",
    "HEALTH_OUTBOX_MAX": "500",
    "HEALTH_EVENTS_MAX": "200",
    "REDIS_URL": None,
    "TRUSTED_PROXIES": "0",
    "LOG_FORMAT": None,
    "SENTRY_DSN": None,
    "METRICS_TOKEN": None,
    "PASSWORD_RESET_MAX_AGE": "3600",
    "RETENTION_DAYS": "1095",
    "FUND_SLUG": "hardship-fund",
    "FUND_NAME": "Strike Hardship Fund",
    "FUND_LEGAL_NAME": "Local 1 Strike Hardship Fund",
    "FUND_EIN": PLACEHOLDER_EIN,
    "FUND_LEGAL_FORM": "501(c)(5)",
    "FUND_CURRENCY": "USD",
    "FUND_GOAL": "50000.00",
    "FUND_CONTACT_EMAIL": PLACEHOLDER_CONTACT_EMAIL,
}

_TRUE = {"1", "true", "yes", "on"}


class ConfigError(RuntimeError):
    """The settings are unsafe or inconsistent; the app must not start."""


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for any PostgreSQL URL (Heroku-style ones included)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_settings(instance_path: str, test_config: dict | None = None) -> dict:
    """Return the app's settings: defaults < .env < environment < test_config."""
    if test_config is None:
        load_dotenv(Path(instance_path).parent / ".env", override=False)
    raw = {name: os.environ.get(name, default) for name, default in ENV_SETTINGS.items()}
    database_url = raw["DATABASE_URL"] or "sqlite:///" + os.path.join(instance_path, "fundapp.sqlite3")
    settings = {
        "ENV_NAME": raw["FUNDAPP_ENV"],
        "SECRET_KEY": raw["SECRET_KEY"],
        # Seals each audit record (an HMAC of its hash) and each anchor; kept outside the database, so
        # whoever owns the database cannot rewrite the trail and reseal it.
        "AUDIT_KEY": raw["AUDIT_KEY"],
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "BASE_URL": raw["BASE_URL"].rstrip("/"),
        "STRIPE_SECRET_KEY": raw["STRIPE_SECRET_KEY"],
        "STRIPE_WEBHOOK_SECRET": raw["STRIPE_WEBHOOK_SECRET"],
        "STRIPE_API_BASE": raw["STRIPE_API_BASE"],
        # Applicants' documents: outside the web root (default: the instance folder), size-limited.
        "DOCUMENTS_DIR": raw["DOCUMENTS_DIR"] or os.path.join(instance_path, "documents"),
        "DOCUMENT_MAX_BYTES": int(raw["DOCUMENT_MAX_MB"]) * 1024 * 1024,
        "DOCUMENTS_PER_APPLICATION": 10,
        # Across all of a member's applications, withdrawn and closed ones included until their documents are
        # purged: withdrawing and starting again does not make room.
        "DOCUMENTS_MAX_PER_MEMBER": int(raw["DOCUMENTS_MAX_PER_MEMBER"]),
        "DOCUMENTS_MAX_TOTAL_BYTES": int(raw["DOCUMENTS_MAX_TOTAL_MB"]) * 1024 * 1024,
        # A payment (or batch) above this asks the trustee for a fresh code from their authenticator app.
        "STEP_UP_ABOVE_CENTS": parse_amount(raw["STEP_UP_ABOVE"]),
        "DONATION_MIN_CENTS": parse_amount(raw["DONATION_MIN"]),
        "DONATION_MAX_CENTS": parse_amount(raw["DONATION_MAX"]),
        "OFFLINE_GIFT_MAX_CENTS": parse_amount(raw["OFFLINE_GIFT_MAX"]),
        # The card fee a donor may choose to cover: percent in basis points (2.9% -> 290) plus a fixed part.
        "CARD_FEE_BASIS_POINTS": parse_amount(raw["CARD_FEE_PERCENT"]),
        "CARD_FEE_FIXED_CENTS": parse_amount(raw["CARD_FEE_FIXED"]),
        "MAIL_SERVER": raw["MAIL_SERVER"],
        "MAIL_PORT": int(raw["MAIL_PORT"]),
        "MAIL_USERNAME": raw["MAIL_USERNAME"],
        "MAIL_PASSWORD": raw["MAIL_PASSWORD"],
        "MAIL_USE_TLS": raw["MAIL_USE_TLS"].lower() in _TRUE,
        "MAIL_USE_SSL": raw["MAIL_USE_SSL"].lower() in _TRUE,
        "MAIL_DEFAULT_SENDER": raw["MAIL_DEFAULT_SENDER"],
        # Seconds the worker waits for the mail server to connect or answer, so a hanging one cannot stop it.
        "MAIL_TIMEOUT": float(raw["MAIL_TIMEOUT"]),
        # Without MAIL_SERVER mail is written to the log (sign-in links redacted); production asks for this
        # to be said explicitly, so a forgotten MAIL_SERVER does not silently send no mail.
        "MAIL_TO_LOG": raw["MAIL_TO_LOG"].lower() in _TRUE,
        # A session unused this long ends: trustees' and the treasurer's soon, everyone else's later.
        "STAFF_IDLE_MINUTES": int(raw["STAFF_IDLE_MINUTES"]),
        "MEMBER_IDLE_MINUTES": int(raw["MEMBER_IDLE_MINUTES"]),
        # /healthz answers 503 when the worker's last heartbeat is older, or more mail or Stripe events wait.
        "HEALTH_WORKER_STALE_SECONDS": int(raw["HEALTH_WORKER_STALE_SECONDS"]),
        "HEALTH_OUTBOX_MAX": int(raw["HEALTH_OUTBOX_MAX"]),
        "HEALTH_EVENTS_MAX": int(raw["HEALTH_EVENTS_MAX"]),
        "REDIS_URL": raw["REDIS_URL"],
        # Rate limits count in Redis when it is set (shared by every worker and host), else in memory;
        # if Redis stops answering, each process counts in its own memory until it is back.
        "RATELIMIT_STORAGE_URI": raw["REDIS_URL"] or "memory://",
        "RATELIMIT_STRATEGY": "moving-window",
        "RATELIMIT_KEY_PREFIX": "fundapp",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # How many proxies (the TLS proxy, a load balancer) stand in front and set X-Forwarded-For:
        # the rate limits and the audit trail then see the visitor's address, not the proxy's.
        "TRUSTED_PROXIES": int(raw["TRUSTED_PROXIES"]),
        # "json": one object per line with the request id (production's default); "text": development's.
        "LOG_FORMAT": (raw["LOG_FORMAT"] or ("json" if raw["FUNDAPP_ENV"] == "production" else "text")).lower(),
        # Where unexpected errors are reported (Sentry, or a server that speaks its protocol); empty: nowhere.
        # What an event carries and what is removed first: fundapp/error_reports.py.
        "SENTRY_DSN": raw["SENTRY_DSN"] or "",
        # /metrics answers a request carrying "Authorization: Bearer <this>"; unset, only a request from this
        # machine that no proxy passed on (fundapp/metrics.py).
        "METRICS_TOKEN": raw["METRICS_TOKEN"] or None,
        "PASSWORD_RESET_MAX_AGE": int(raw["PASSWORD_RESET_MAX_AGE"]),
        # A closed case keeps its documents and personal details this long after its last change.
        "RETENTION_DAYS": int(raw["RETENTION_DAYS"]),
        "FUND_DEFAULTS": {
            "slug": raw["FUND_SLUG"],
            "name": raw["FUND_NAME"],
            "legal_name": raw["FUND_LEGAL_NAME"],
            "ein": raw["FUND_EIN"],
            "legal_form": raw["FUND_LEGAL_FORM"],
            "currency": raw["FUND_CURRENCY"].upper(),
            "goal_cents": parse_amount(raw["FUND_GOAL"]),
            "contact_email": raw["FUND_CONTACT_EMAIL"],
        },
        # argon2id cost: RFC 9106's second recommended option (64 MiB, 3 passes).
        "PASSWORD_HASH": {"time_cost": 3, "memory_cost": 65536, "parallelism": 4},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "en",
        "LANGUAGES": ("en", "es"),
        # A database error's message shows its SQL, never the values (names, addresses): it reaches the log and
        # the error reports.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "TESTING": False,
    }
    if test_config:
        settings.update(test_config)
    check_settings(settings)
    return settings


def check_settings(settings: dict) -> None:
    """Refuse settings that would be unsafe in production."""
    if settings["ENV_NAME"] not in ("development", "production"):
        raise ConfigError("FUNDAPP_ENV must be 'development' or 'production'.")
    try:
        check_local_mode(settings)
    except LocalModeUnsafe as exc:
        raise ConfigError(str(exc)) from exc
    if settings["LOG_FORMAT"] not in ("json", "text"):
        raise ConfigError("LOG_FORMAT must be 'json' or 'text'.")
    if not 0 < settings["DONATION_MIN_CENTS"] <= settings["DONATION_MAX_CENTS"]:
        raise ConfigError("DONATION_MIN must be above zero and at most DONATION_MAX.")
    if settings["STAFF_IDLE_MINUTES"] < 1 or settings["MEMBER_IDLE_MINUTES"] < 1:
        raise ConfigError("STAFF_IDLE_MINUTES and MEMBER_IDLE_MINUTES must be at least 1.")
    if not settings["MAIL_TIMEOUT"] > 0:
        raise ConfigError("MAIL_TIMEOUT must be above zero (seconds).")
    if not 0 <= settings["CARD_FEE_BASIS_POINTS"] < 5000:
        raise ConfigError("CARD_FEE_PERCENT must be between 0 and 50.")
    if settings["ENV_NAME"] == "production":
        if settings.get("STRIPE_API_BASE"):
            raise ConfigError("STRIPE_API_BASE (the local Stripe server) must not be set in production.")
        key = settings.get("SECRET_KEY") or ""
        if key == DEV_SECRET_KEY or len(key) < 32:
            raise ConfigError(
                "Refusing to start in production with the development SECRET_KEY "
                "(or one shorter than 32 characters). Set SECRET_KEY to a long random value."
            )
        audit_key = settings.get("AUDIT_KEY") or ""
        if audit_key == DEV_AUDIT_KEY or len(audit_key) < 32:
            raise ConfigError(
                "Refusing to start in production without AUDIT_KEY (or with the development one, or one shorter "
                "than 32 characters). Set AUDIT_KEY to a long random value kept outside the database and its backups."
            )
        stripe_key = settings.get("STRIPE_SECRET_KEY") or ""
        if stripe_key == ENV_SETTINGS["STRIPE_SECRET_KEY"] or not stripe_key.startswith(("sk_", "rk_")) \
                or len(stripe_key) < 20:
            raise ConfigError("Set STRIPE_SECRET_KEY to the fund's own Stripe secret key (sk_live_... or a restricted "
                              "rk_live_... key): the local placeholder cannot take real gifts.")
        webhook_secret = settings.get("STRIPE_WEBHOOK_SECRET") or ""
        if webhook_secret == ENV_SETTINGS["STRIPE_WEBHOOK_SECRET"] or not webhook_secret.startswith("whsec_") \
                or len(webhook_secret) < 20:
            raise ConfigError("Set STRIPE_WEBHOOK_SECRET to the signing secret of the fund's webhook endpoint "
                              "(whsec_...): the local placeholder is public, anyone could sign events with it.")
        # FUND_EIN and FUND_CONTACT_EMAIL only seed a new fund; the fund's own row is what receipts print, and
        # the treasurer edits it on /admin/fund, which a new installation must be able to reach. So production
        # starts with the placeholders and refuses to send receipts while the fund carries them
        # (fundapp.funds.services.receipt_placeholders), and the fund page says so.
        if not settings.get("MAIL_SERVER") and not settings.get("MAIL_TO_LOG"):
            raise ConfigError("Set MAIL_SERVER in production (receipts, reset links and notices go by mail), or set "
                              "MAIL_TO_LOG=1 to say that mail is to be written to the log instead (sign-in links "
                              "redacted).")
        if settings.get("METRICS_TOKEN") and len(settings["METRICS_TOKEN"]) < 32:
            raise ConfigError("METRICS_TOKEN must be a long random value (32 characters or more), or unset "
                              "(then /metrics answers only this machine).")
        if not settings.get("REDIS_URL"):
            raise ConfigError("Set REDIS_URL in production: sign-in limits must be shared by every worker and host.")
        from reports import fonts

        try:  # receipts are made in the worker, long after a deploy: a missing font is found now, not then
            for name in fonts.FILES:
                fonts.font_path(name)
        except fonts.FontMissing as exc:
            raise ConfigError(str(exc)) from exc
        settings["SESSION_COOKIE_SECURE"] = True
        settings["REMEMBER_COOKIE_SECURE"] = True
