"""Each process keeps the fund it read (``funds.services.current_fund``) and reads only its stamp per request: every
write of the fund's row raises ``settings_version``, and another process sees the change on its next request."""
from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa

from fundapp import create_app
from fundapp.applications.services import update_rules
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.funds.services import KEPT_FUNDS, current_fund
from tests.conftest import IsolatedClient, base_config, sign_in
from tests.funds.test_settings import GOOD


@contextlib.contextmanager
def statements(app):
    """The SQL statements ``app`` sends while the block runs (each one a round trip)."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def note(_conn, _cursor, statement, *_args, **_kwargs):
        seen.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def reads_the_whole_fund(statement: str) -> bool:
    return "FROM funds" in statement and "funds.name" in statement


@pytest.fixture
def other_process(database_url, tmp_path, app):
    """A second app on the same database, as another gunicorn process is: nothing kept in common with ``app``."""
    other = create_app(base_config(database_url, DOCUMENTS_DIR=str(tmp_path / "documents")))
    other.test_client_class = IsolatedClient
    yield other
    with other.app_context():
        db.engine.dispose()


def version() -> int:
    db.session.expire_all()
    return db.session.scalar(db.select(Fund.settings_version))


def test_a_page_reads_the_funds_stamp_and_not_the_fund(client, fund, create_user):
    client.get("/donate")  # the first request reads the fund and keeps it
    with statements(client.application) as seen:
        assert client.get("/donate").status_code == 200
    assert len(seen) == 1 and "funds.settings_version" in seen[0] and not reads_the_whole_fund(seen[0])
    create_user("tom@example.org", "trustee")
    sign_in(client, "tom@example.org")
    client.get("/donate")
    with statements(client.application) as seen:
        assert client.get("/donate").status_code == 200
    # signed in: the stamp comes with the user's session and roles, in one round trip (two before)
    assert len(seen) == 1 and "user_sessions" in seen[0] and "funds.settings_version" in seen[0]


def test_another_process_sees_the_treasurers_change_on_its_next_request(client, fund, create_user, other_process):
    visitor = other_process.test_client()
    assert fund.name in visitor.get("/donate").get_data(as_text=True)
    with statements(other_process) as seen:
        assert fund.name in visitor.get("/donate").get_data(as_text=True)
    assert not any(reads_the_whole_fund(s) for s in seen)  # kept: the other process read only the stamp
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    assert client.post("/admin/fund", data={**GOOD, "name": "Mill Workers Fund"}).status_code == 302
    assert version() == 1
    with statements(other_process) as seen:
        page = visitor.get("/donate").get_data(as_text=True)
    assert "Mill Workers Fund" in page  # the kept fund and the page rendered once were both made again
    assert any(reads_the_whole_fund(s) for s in seen)
    with other_process.app_context():
        assert other_process.extensions[KEPT_FUNDS][fund.slug].values["name"] == "Mill Workers Fund"


def test_every_write_of_the_funds_row_raises_the_version(client, fund, other_process):
    visitor = other_process.test_client()
    visitor.get("/about")
    fund.legal_name = "Local 12 Hardship Fund"  # not through the settings page
    db.session.commit()
    assert version() == 1
    assert "Local 12 Hardship Fund holds the fund." in visitor.get("/about").get_data(as_text=True)
    update_rules(fund, actor=None, reserve_cents=500_00)  # the reserve, copied onto the fund
    db.session.commit()
    assert version() == 2 and fund.reserve_cents == 500_00
    fund.name = fund.name  # no change: no write, no new version
    db.session.commit()
    assert version() == 2


def test_the_kept_fund_is_an_instance_of_the_requests_session(app, fund):
    def in_a_request(work):
        with app.app_context(), app.test_request_context():  # a session of its own, as a request has
            return work()

    in_a_request(current_fund)  # read and kept

    def kept_copy():
        with statements(app) as seen:
            kept = current_fund()
        assert len(seen) == 1 and not reads_the_whole_fund(seen[0])
        assert kept in db.session and not db.session.is_modified(kept) and sa.inspect(kept).persistent
        kept.goal_cents = 12_345_00  # it writes like any instance
        db.session.commit()
        return kept.goal_cents  # expired by the commit, and loaded again

    assert in_a_request(kept_copy) == 12_345_00
    assert version() == 1
    assert in_a_request(lambda: current_fund().goal_cents) == 12_345_00


def test_a_change_not_committed_is_never_kept(app, fund):
    def change_then_read():
        fund_here = db.session.get(Fund, fund.id)
        fund_here.name = "Not Committed"
        db.session.flush()
        assert fund_here.settings_version == 1  # loaded again: the row is whole in the session
        assert current_fund().name == "Not Committed"  # this transaction sees its own change...
        db.session.rollback()

    with app.app_context(), app.test_request_context():
        change_then_read()
    fund.name = "Committed"  # version 1 again, now for everyone
    db.session.commit()
    with app.app_context(), app.test_request_context():
        assert current_fund().name == "Committed"  # ...which was never kept as version 1
