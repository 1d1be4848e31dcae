"""Small request and response helpers shared by the blueprints."""
from __future__ import annotations

from datetime import date

from flask import Response, abort, request


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
