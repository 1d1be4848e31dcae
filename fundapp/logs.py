"""The log: one JSON object per line (``LOG_FORMAT=json``, production's default) or plain text (development's).

A JSON line carries the time, level, logger and message, and, inside a request, its id (the ``X-Request-ID``
header a person can quote from an error page), the signed-in user's id, the fund, the route's rule and, on the
line each request ends with, its status and duration. Personal data stays out: the route is the rule
(``/thanks/<token>``), never the path with its token; a user is their id, never their email; and every message
passes through ``scrub`` (sign-in links redacted as mail's log mode does, email addresses removed), a net under
the rule that log messages name rows by id, not people by name.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import Flask, Response, current_app, g, has_app_context, has_request_context, request

from fundapp.mail import redact_sign_in_links

FORMATS = ("json", "text")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
EMAIL_REMOVED = "[email removed]"
#: The line each request ends with (its status and duration); INFO, so production's log has it.
REQUEST_LOGGER = "fundapp.request"


def default_format(env_name: str) -> str:
    return "json" if env_name == "production" else "text"


def scrub(text: str) -> str:
    """``text`` without sign-in links (mail's own redaction, which reads the app's routes: inside the app) or
    email addresses."""
    try:
        if has_app_context():
            text = redact_sign_in_links(text)
    except RuntimeError:  # the context's variable seen from a thread that has no app
        pass
    return EMAIL.sub(EMAIL_REMOVED, text)


class JsonFormatter(logging.Formatter):
    """A record as one JSON object on one line (gunicorn's own logs use it too: deploy/gunicorn.conf.py)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        line.update(context())
        for name in ("status", "duration_ms", "method"):
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def context() -> dict[str, Any]:
    """What the log (and an error report, ``error_reports``) says about where it was written: the request, its user
    (an id) and the fund."""
    found: dict[str, Any] = {}
    try:
        if has_app_context():
            from fundapp.funds.mount import SLUG_KEY

            found["fund"] = ((request.environ.get(SLUG_KEY) if has_request_context() else None)
                             or (current_app.config.get("FUND_DEFAULTS") or {}).get("slug"))
    except RuntimeError:  # a thread that sees the context's variable but not the app (the local Stripe server's)
        pass
    if has_request_context():
        user = g.get("_login_user")  # Flask-Login's loaded user; never load one just to log
        found.update(request_id=g.get("request_id"), route=request.url_rule.rule if request.url_rule else None,
                     user_id=getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None)
    return found


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Standard error as it is when a line is written (so a test capturing it, or a reopened stream, gets it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


_HANDLER = _Stderr()
_HANDLER.setFormatter(JsonFormatter())


def init_app(app: Flask) -> None:
    """Write the log in the configured format; and end each request with a line of its status and duration."""
    root = logging.getLogger()
    if app.config["LOG_FORMAT"] == "json":
        if _HANDLER not in root.handlers:
            for handler in list(root.handlers):  # one line per record: ours replaces a plain stderr handler
                if type(handler) is logging.StreamHandler:
                    root.removeHandler(handler)
            root.addHandler(_HANDLER)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        app.logger.setLevel(logging.INFO)
        from flask.logging import default_handler

        app.logger.removeHandler(default_handler)
    elif _HANDLER in root.handlers:
        root.removeHandler(_HANDLER)

    @app.before_request
    def start_clock() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        if app.config["LOG_FORMAT"] == "json":
            started = g.get("request_started")
            duration = round((time.perf_counter() - started) * 1000, 1) if started else None
            logging.getLogger(REQUEST_LOGGER).info("request", extra={
                "status": response.status_code, "duration_ms": duration, "method": request.method})
        return response
