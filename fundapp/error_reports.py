"""Error reports, optional: with ``SENTRY_DSN`` set, the web app's unexpected errors (a 500), the worker's (a
round that failed, logged with its traceback) and a command's that crashed go to Sentry, with what finds the
fault and nothing that says who.

An event carries the exception (type, message, and the stack's files, functions, lines and source; never a
frame's local variables), the request id (the ``X-Request-ID`` a person quotes from an error page), the route's
rule (``/thanks/<token>``, never the path with its token), the method and a few plain headers (``KEPT_HEADERS``),
the user as an id, the fund, and warnings logged before it. Nothing else of the request goes: no body or form, no
query string, no cookie (the session), no other header (``Cookie``, ``Authorization``, ``X-CSRFToken``,
``Referer``...), no IP address; no tracing, no sessions, no command line.

Then every string left (messages, exception values, breadcrumbs, extra, tags, contexts) goes through
``logs.scrub`` (email addresses, sign-in links), and what the request holds of a person is removed from it: the
signed-in user's email and name (and each part of it), and each value the request submitted (path, form and
query), which an exception's message can echo ("invalid literal for int(): 'Rosa'"). Other names have no pattern to
find: they stay out because bodies, forms, user fields and local variables are never sent, because messages name
rows by id (the logs' rule), and because SQL errors show no parameters (``hide_parameters``, config.py).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import sentry_sdk
import sqlalchemy as sa
from flask import Flask, g, has_request_context, request
from sentry_sdk.integrations.atexit import AtexitIntegration
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.integrations.excepthook import ExcepthookIntegration
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Event, Hint

from fundapp import logs

#: The request headers an event keeps: none names a person or holds a secret.
KEPT_HEADERS = ("host", "user-agent", "accept-language", "content-type", "content-length")
REMOVED = "[removed]"
#: A submitted value shorter than this is not looked for in the text: "1", "on", "en" are everywhere.
SHORTEST_VALUE = 3


def init_app(app: Flask) -> None:
    """Report errors to ``SENTRY_DSN``; nothing when it is empty. One client per process (the factory may run
    again, as in the tests): a second app with the same DSN uses it."""
    dsn = app.config["SENTRY_DSN"]
    if not dsn or sentry_sdk.get_client().dsn == dsn:
        return
    sentry_sdk.init(
        dsn=dsn,
        environment=app.config["ENV_NAME"],
        # Chosen, not the SDK's defaults: those send the command line (`fund create-user --name ...`) and turn on
        # the Redis integration, whose breadcrumbs hold the sign-in limits' keys (email addresses).
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[
            FlaskIntegration(transaction_style="url"),
            # An error logged (the worker's failed round) is an event; a warning a breadcrumb; info is neither.
            LoggingIntegration(level=logging.WARNING, event_level=logging.ERROR),
            DedupeIntegration(),  # a 500 is captured, then logged by Flask: one event
            ExcepthookIntegration(),  # a command that crashed
            AtexitIntegration(),  # a command's event is sent before it exits
        ],
        data_collection={  # send_default_pii=False, as the SDK now spells it: every kind named, each off
            "user_info": False, "cookies": {"mode": "off"}, "http_bodies": [], "url_query_params": {"mode": "off"},
            "http_headers": {"request": {"mode": "allowlist", "terms": list(KEPT_HEADERS)}},
            "stack_frame_variables": False, "database_query_data": False, "queues": False,
            "graphql": {"document": False, "variables": False}, "gen_ai": {"inputs": False, "outputs": False},
        },
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=None,  # errors only
        auto_session_tracking=False,
        before_send=_before_send,
        before_breadcrumb=_before_breadcrumb,
    )


def _before_send(event: Event, _hint: Hint) -> Event:
    """The event as it may leave: the request cut down to its rule, method and plain headers; the user an id;
    the request id, route and fund as tags; then every string cleaned (``_clean``)."""
    place = logs.context()
    user_id = place.pop("user_id", None)
    event.pop("user", None)
    if user_id is not None:
        event["user"] = {"id": str(user_id)}
    tags = event.get("tags") or {}
    tags.update({name: str(value) for name, value in place.items() if value is not None})
    event["tags"] = tags
    if "request" in event:
        asked: dict[str, Any] = dict(event["request"])
        headers: dict[str, str] = asked.get("headers") or {}
        kept = {"method": asked.get("method"), "url": place.get("route"),
                "headers": {name: value for name, value in headers.items() if name.lower() in KEPT_HEADERS}}
        event["request"] = {name: value for name, value in kept.items() if value}
    cleaned: Event = _clean(event, _remover())
    return cleaned


def _before_breadcrumb(crumb: Breadcrumb, _hint: BreadcrumbHint) -> Breadcrumb | None:
    """Cleaned when it is recorded (a worker's breadcrumbs wait for a later event), and again when sent. One that
    cannot be cleaned is dropped: the SDK would keep it as it was (an event that cannot is not sent)."""
    try:
        cleaned: Breadcrumb = _clean(crumb, _remover())
    except Exception:  # noqa: BLE001 - never keep it unclean
        return None
    return cleaned


def _clean(value: Any, remove: Callable[[str], str]) -> Any:
    """``value`` with every string scrubbed and the request's personal values removed; a stack trace only
    scrubbed (its frames are our code, where removing a submitted word would garble a function's name)."""
    if isinstance(value, str):
        return remove(logs.scrub(value))
    if isinstance(value, dict):
        return {key: _clean(item, _unchanged if key == "stacktrace" else remove) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item, remove) for item in value]
    return value


def _unchanged(text: str) -> str:
    return text


def _remover() -> Callable[[str], str]:
    """What replaces, in a text, the personal values this request holds (``REMOVED``; the path, which may
    hold a token, becomes its rule); outside a request, nothing."""
    if not has_request_context():
        return _unchanged
    found: dict[str, str] = {}
    user = g.get("_login_user")  # Flask-Login's loaded user; never loaded here
    if getattr(user, "is_authenticated", False):
        state = sa.inspect(user, raiseerr=False)
        loaded = state.dict if state is not None else {}  # no query: the transaction may have failed
        name = loaded.get("name") or ""
        found.update(dict.fromkeys([loaded.get("email") or "", name, *name.split()], REMOVED))
    submitted = [value for values in (request.form, request.args) for _key, given in values.lists() for value in given]
    submitted += (request.view_args or {}).values()  # the path's parts: a token, an id
    found.update(dict.fromkeys((value.strip() for value in submitted if isinstance(value, str)), REMOVED))
    if request.url_rule is not None and request.path != request.url_rule.rule:
        found[request.path] = request.url_rule.rule
    wanted = sorted((value for value in found if len(value) >= SHORTEST_VALUE), key=len, reverse=True)
    if not wanted:
        return _unchanged
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(value)}(?!\w)" for value in wanted), re.IGNORECASE)
    replacement = {value.lower(): found[value] for value in wanted}
    return lambda text: pattern.sub(lambda match: replacement.get(match.group(0).lower(), REMOVED), text)
