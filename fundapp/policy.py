"""Who may do what: the one place where access is decided.

Every view declares its rule with ``@public``, ``@signed_in``,
``@roles_required(...)`` or ``@donor_signed_in`` (a donor who followed an emailed
sign-in link; donors have no password and no user account). ``enforce_access`` runs before every request and
refuses any endpoint without a declared rule (deny by default), so a new route
that forgets its rule is closed, and the route-by-role test names it.
Roles are held per fund; a request is judged on the current fund's roles.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_login import current_user

from fundapp.accounts.models import Role
from fundapp.extensions import login_manager
from fundapp.funds.services import current_fund

_ATTR = "_fundapp_access"


@dataclass(frozen=True)
class Access:
    public: bool = False
    roles: frozenset[Role] = frozenset()  # empty and not public: any signed-in user
    donor: bool = False  # a donor signed in by emailed link (``current_donor_id``)
    operator: bool = False  # one of the host union's operators (``User.is_operator``), whatever the fund


PUBLIC = Access(public=True)
SIGNED_IN = Access()
DONOR = Access(donor=True)
OPERATOR = Access(operator=True)
DONOR_SESSION_KEY = "donor"
SECOND_FACTOR_SESSION_KEY = "second_factor"  # set when this session's sign-in passed the second factor


def _mark(view, access: Access):
    setattr(view, _ATTR, access)
    return view


def public(view):
    """Anyone, signed in or not."""
    return _mark(view, PUBLIC)


def signed_in(view):
    """Any signed-in user, whatever their roles."""
    return _mark(view, SIGNED_IN)


def roles_required(*roles: Role):
    """A signed-in user holding at least one of ``roles`` in the current fund."""
    if not roles:
        raise ValueError("roles_required needs at least one role")
    access = Access(roles=frozenset(roles))
    return lambda view: _mark(view, access)


def operator_required(view):
    """One of the host's operators: the installation's pages (``/host/``), above every fund."""
    return _mark(view, OPERATOR)


def donor_signed_in(view):
    """A donor who followed an emailed sign-in link, for this fund."""
    return _mark(view, DONOR)


def current_donor_id() -> int | None:
    """The donor signed in by link in this session, for the current fund, while the server keeps the session
    open (signing out or idling ends it for every copy of the cookie)."""
    held = session.get(DONOR_SESSION_KEY)
    if not isinstance(held, dict) or held.get("fund") != current_fund().id:
        return None
    if "donor_session" not in g:
        from fundapp.accounts.sessions import donor_of_session

        g.donor_session = donor_of_session(held.get("token"))
    return held.get("id") if g.donor_session is not None and g.donor_session == held.get("id") else None


def access_for(endpoint: str) -> Access | None:
    """The declared rule of an endpoint, or None when it declares none."""
    if endpoint == "static":
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, _ATTR, None)


def current_roles() -> frozenset[Role]:
    """The signed-in user's roles in the current fund (empty when anonymous)."""
    if not current_user.is_authenticated:
        return frozenset()
    if "roles" not in g:
        g.roles = current_user.roles_in(current_fund().id)
    return g.roles


def allows(access: Access | None) -> bool:
    if access is None:
        return False
    if access.public:
        return True
    if access.donor:
        return current_donor_id() is not None
    if not current_user.is_authenticated:
        return False
    if access.operator:
        return current_user.is_operator
    return not access.roles or bool(access.roles & current_roles())


def can_visit(endpoint: str) -> bool:
    """For templates: show a link only to those who may follow it."""
    return allows(access_for(endpoint))


def enforce_access():
    """``before_request`` hook: refuse what the endpoint's rule does not allow."""
    if request.endpoint is None:  # routing failed; Flask answers 404/405 itself
        return None
    _end_sessions_missing_the_second_factor()
    access = access_for(request.endpoint)
    if access is not None and access.donor and current_donor_id() is None:
        return redirect(url_for("donor.login"))
    if access is not None and not access.public and not access.donor and not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not allows(access):
        abort(403)
    return None


def _end_sessions_missing_the_second_factor() -> None:
    """A trustee's or treasurer's session must have passed the second factor: one signed in before a role
    was granted, or restored from a remember-me cookie, is signed out (they sign in again, with the code)."""
    from flask_login import logout_user

    from fundapp.accounts.sessions import end_session
    from fundapp.accounts.two_factor import required_for
    from fundapp.extensions import db

    if current_user.is_authenticated and not session.get(SECOND_FACTOR_SESSION_KEY) and required_for(current_user):
        end_session(current_user.session_token, "second_factor")
        db.session.commit()
        logout_user()


def can_see_application(application) -> bool:
    """An application and its documents: its applicant, and the fund's trustees and treasurer. No one else."""
    if not current_user.is_authenticated or application.fund_id != current_fund().id:
        return False
    if application.applicant_id == current_user.id:
        return True
    return bool(current_roles() & {Role.TRUSTEE, Role.TREASURER})


def can_read_note(note, reviewer_ids: set[int]) -> bool:
    """A case note: trustees and the treasurer who can see the case; a sealed one, only its author and the
    case's assigned reviewers (``reviewer_ids``)."""
    if not can_see_application(note.application) or not (current_roles() & {Role.TRUSTEE, Role.TREASURER}):
        return False
    return not note.sealed or current_user.id == note.author_id or current_user.id in reviewer_ids
