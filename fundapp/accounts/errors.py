"""What the accounts services refuse with; each carries the message for the person (and the form field)."""
from __future__ import annotations


class AccountError(Exception):
    """A use case refused; ``str(error)`` is a message for the user, ``field`` the input at fault."""

    field: str | None = None

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        if field is not None:
            self.field = field


class EmailTaken(AccountError):
    field = "email"


class WeakPassword(AccountError):
    field = "password"


class InvalidResetLink(AccountError):
    pass


class LastTreasurer(AccountError):
    pass


class LinkRefused(AccountError):
    pass


class InvalidRegistrationLink(AccountError):
    pass
