"""Each fund's pages under ``/f/<slug>/``: one installation, several funds.

``FundMount`` wraps the WSGI app and moves a leading ``/f/<slug>`` from the path to the script root, keeping the
slug in the environ (``SLUG_KEY``). The views then see the same paths as an installation of one fund, and every
link ``url_for`` makes (``request.script_root`` + path) stays inside the fund the visitor is on, with no change to
a view or a template. ``current_fund()`` reads the slug from there; a path without the prefix is the
installation's own fund (``FUND_SLUG``), so every address of an installation with one fund works as before.

The move is pure text: which slugs name a fund is the database's answer (``current_fund`` answers 404 for one
that names none). The session cookie's path stays ``/``: a person signed in once moves between funds.
"""
from __future__ import annotations

import re

from flask import current_app, has_request_context, request

#: The environ key holding the fund a path named.
SLUG_KEY = "fundapp.fund_slug"
#: A fund's slug: lower-case letters, digits and inner hyphens (also what ``open-fund`` accepts).
SLUG_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
PREFIX = "/f/"


class FundMount:
    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            slug, _slash, rest = path[len(PREFIX):].partition("/")
            if SLUG_PATTERN.fullmatch(slug):
                environ[SLUG_KEY] = slug
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + PREFIX + slug
                environ["PATH_INFO"] = "/" + rest
        return self.wsgi_app(environ, start_response)


def installation_slug() -> str:
    """The installation's own fund (``FUND_SLUG``): the one served at the paths without a prefix."""
    return current_app.config["FUND_DEFAULTS"]["slug"]


def slug_in_url() -> str | None:
    """The fund the request's path named (``/f/<slug>/``), or None."""
    return request.environ.get(SLUG_KEY) if has_request_context() else None


def requested_slug() -> str:
    """The fund this request (or command) works on: the one its path names, else the installation's own."""
    return slug_in_url() or installation_slug()


def fund_path(slug: str, path: str = "/") -> str:
    """The path of a page of the fund ``slug`` (``path`` as the views know it): the installation's own fund keeps
    its paths without a prefix, every other fund's are under ``/f/<slug>``."""
    return path if slug == installation_slug() else PREFIX + slug + path
