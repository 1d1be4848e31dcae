"""Small request and response helpers shared by the blueprints."""
from __future__ import annotations

from datetime import date

from flask import Response, abort, request


def refuse_nul_bytes() -> None:
    """A NUL byte is never text a person typed, and PostgreSQL refuses it in text columns (a 500 after half
    a request's work): a query or form carrying one is answered 400 before any view runs."""
    for values in (request.args, request.form):
        if any("\x00" in value for _key, value in values.items(multi=True)):
            abort(400)


def date_arg(name: str) -> date | None:
    """An optional ISO date from the query string; a malformed one is a 400, not a guess."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400)


def download(body, filename: str, mimetype: str = "application/pdf") -> Response:
    """A file the browser saves under ``filename`` rather than shows."""
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
