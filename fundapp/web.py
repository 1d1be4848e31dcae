"""Small request and response helpers shared by the blueprints."""
from __future__ import annotations

import unicodedata
from collections.abc import Callable, Hashable
from datetime import date
from urllib.parse import quote, urlsplit

from flask import Response, abort, current_app, request, session
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from fundapp.money import InvalidAmount, money_text, parse_amount  # noqa: F401 (money_text: pages import it here)


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
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": attachment(filename)})


def attachment(filename: str) -> str:
    """``Content-Disposition`` for a download named ``filename`` in any script (RFC 6266): the name itself in
    RFC 5987 form, and a plain ASCII fallback for old clients. A header must be Latin-1 (a server refuses
    anything else), so the raw name never goes into it."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = "".join(ch for ch in fallback if ch.isprintable() and ch not in '"\\') or "download"
    if fallback == filename:  # plain ASCII already: the simple form every client reads
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def amounts_valid(form, names: tuple[str, ...]) -> bool:
    """Check that each named field of ``form`` holds an amount of money; a field that does not gets the reason
    among its errors (for a form's ``validate``)."""
    valid = True
    for name in names:
        field = getattr(form, name)
        try:
            parse_amount(field.data or "")
        except InvalidAmount as exc:
            field.errors.append(str(exc))
            valid = False
    return valid


#: The largest integer a query may carry (an id, a page): PostgreSQL's integer. Beyond it a query fails.
QUERY_INT_MAX = 2**31 - 1


def int_arg(name: str, default: int | None = None) -> int | None:
    """A whole number from the query string, or ``default`` when it is missing, not a number or out of range."""
    value = request.args.get(name, type=int)
    return value if value is not None and 0 <= value <= QUERY_INT_MAX else default


def confirmed() -> bool:
    """True when this POST is the second step of a confirmation (see ``confirm_first``)."""
    return request.form.get("confirmed") == "yes"


def confirm_first(title: str, lines: list[str], button: str, back: str, *, code_label: str = ""):
    """The second step before money moves or something cannot be undone: a page that says exactly what will
    happen and posts the same form again with ``confirmed=yes`` (no script needed). With ``code_label`` the
    authenticator-code field is asked here, just before the money moves, so the code is fresh."""
    from flask import render_template

    carried = [(name, value) for name, values in request.form.lists() for value in values
               if name not in ("csrf_token", "confirmed") and not (code_label and name == "code")]
    return render_template("confirm.html", title=title, lines=lines, button=button, back=back,
                           carried=carried, action=request.script_root + request.path, code_label=code_label)


def show_error(form, exc: Exception, default_field: str) -> None:
    """Put a service's refusal next to the input it concerns."""
    name = getattr(exc, "field", None) or default_field
    getattr(form, name if hasattr(form, name) else default_field).errors.append(str(exc))


def safe_next(target: str | None, default: str = "/") -> str:
    """Only follow links back into this site (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target \
            or any(not ch.isprintable() for ch in target):  # CR, LF and other control characters never go in a header
        return default
    return target


#: Pages rendered once for every anonymous visitor: key -> (the HTML, the CSRF token it was rendered with).
_SAME_FOR_EVERYONE: dict[tuple, tuple[str, str]] = {}
_MAX_SAME_FOR_EVERYONE = 64  # a few pages x two languages x a few fund versions: cleared whole past this


def render_for_everyone(render: Callable[[], str], anonymous: bool, *key: Hashable) -> str:
    """``render()``, done once per process for a page every anonymous visitor sees alike, with this visitor's CSRF
    token put in place of the one it was first rendered with (the only part that differs between them).

    The page is the same when the request is a plain GET (no query), the visitor is ``anonymous`` (no member
    or donor signed in: the view says) and has no message waiting to be shown; ``key`` holds everything else
    the page is made from (the fund's settings, say), and the app, endpoint, path, script root and language
    are added here. The token is still made per visitor (``generate_csrf``, which also keeps it in their session);
    only the rendering is saved. In debug mode templates reload, so every request renders."""
    if (not anonymous or request.method != "GET" or request.args or session.get("_flashes")
            or current_app.debug or current_app.config.get("TEMPLATES_AUTO_RELOAD")):
        return render()
    token = generate_csrf()
    full_key = (id(current_app._get_current_object()), request.endpoint, request.path, request.script_root,  # type: ignore[attr-defined]
                str(get_locale()), *key)
    found = _SAME_FOR_EVERYONE.get(full_key)
    if found is not None:
        html, first_token = found
        return html.replace(first_token, token)
    html = render()
    if len(_SAME_FOR_EVERYONE) >= _MAX_SAME_FOR_EVERYONE:
        _SAME_FOR_EVERYONE.clear()
    _SAME_FOR_EVERYONE[full_key] = (html, token)
    return html
