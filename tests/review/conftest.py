"""The trustees' fixtures: two trustees, and a striking member's submitted application."""
from __future__ import annotations

import pytest

from fundapp.applications.models import Application
from tests.factories import submitted_case


@pytest.fixture
def trustees(create_user):
    return create_user("tom@example.org", "trustee"), create_user("tina@example.org", "trustee")


@pytest.fixture
def case(fund, create_user):
    """case(cents): a submitted application by a new striking member."""
    count = [0]

    def make(cents: int, status: str = "submitted") -> Application:
        count[0] += 1
        user = create_user(f"striker{count[0]}@example.org", "applicant")
        return submitted_case(fund, user, count[0], cents, status)

    return make
