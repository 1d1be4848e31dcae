"""Importing the membership roster (page and command) and linking an account to it."""
from __future__ import annotations

import io

import pytest

from fundapp.accounts import membership as roster_service
from fundapp.accounts import services
from fundapp.accounts.models import Member
from fundapp.extensions import db
from tests.conftest import sign_in
from tests.factories import GOOD


def members() -> dict[str, Member]:
    return {m.member_id: m for m in db.session.scalars(db.select(Member))}


def upload(client, text: str | bytes, name="roster.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post("/admin/roster/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


@pytest.fixture
def treasurer_client(client, create_user):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    return client


def test_good_file_imports_every_member(treasurer_client):
    response = upload(treasurer_client, GOOD)
    assert response.status_code == 302
    got = members()
    assert sorted(got) == ["A-1", "A-2", "A-3"]
    assert (got["A-1"].last_name, got["A-1"].on_strike, got["A-1"].email) == ("Núñez", True, "rosa@example.org")
    assert (got["A-2"].email, got["A-2"].on_strike) == (None, False)
    assert (got["A-3"].first_name, got["A-3"].worksite, got["A-3"].email) == ("Mary Ann", "Plant, North", "mary@example.org")
    assert b"3 new, 0 updated" in treasurer_client.get("/admin/roster").data


def test_spreadsheet_bom_and_any_column_order_are_accepted(treasurer_client):
    text = "\ufeffon_strike,unit,worksite,email,last_name,first_name,member_id\r\nyes,Production,North,,Garcia,Ana,B-7\r\n"
    assert upload(treasurer_client, text.encode("utf-8")).status_code == 302
    assert members()["B-7"].last_name == "Garcia"


def test_file_with_bad_rows_imports_nothing_and_names_each_line(treasurer_client):
    bad = GOOD + (
        "A-4,,Lopez,,North,Production,yes\n"          # line 5: no first name
        "A-5,Ana,Lopez,not-an-email,North,Production,maybe\n"  # line 6: bad email and on_strike
        "A-1,Rosa,Again,,North,Production,yes\n"      # line 7: repeats A-1
    )
    response = upload(treasurer_client, bad)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nothing was imported" in page
    assert "Line 5: first_name is empty" in page
    assert "Line 6:" in page and "not-an-email" in page and "yes or no" in page
    assert "Line 7: member_id A-1 repeats line 2" in page
    assert members() == {}


def test_missing_column_is_reported_on_line_1(treasurer_client):
    response = upload(treasurer_client, "member_id,first_name,last_name\nA-1,Rosa,Nunez\n")
    assert response.status_code == 422
    assert "Line 1: missing column(s): email, worksite, unit, on_strike" in response.get_data(as_text=True)


def test_non_utf8_file_is_refused_clearly(treasurer_client):
    response = upload(treasurer_client, GOOD.encode("latin-1"))
    assert response.status_code == 422
    assert b"not UTF-8" in response.data
    assert members() == {}


def test_reimport_upserts_by_member_id(treasurer_client):
    upload(treasurer_client, GOOD)
    first_id = members()["A-1"].id
    changed = GOOD.replace("A-2,Luis,Smith,,South Plant,Maintenance,no", "A-2,Luis,Smith,,South Plant,Maintenance,yes")
    changed += "A-9,New,Person,,North Plant,Production,yes\n"
    upload(treasurer_client, changed)
    got = members()
    assert len(got) == 4
    assert got["A-1"].id == first_id
    assert got["A-2"].on_strike is True
    assert b"1 new, 1 updated, 2 unchanged" in treasurer_client.get("/admin/roster").data


def test_import_roster_command_good_and_bad(runner, fund, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(args=["fund", "import-roster", str(good)])
    assert result.exit_code == 0, result.output
    assert "Imported 3 rows: 3 new" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD.replace("A-2,Luis", "A-2,") + "A-8,X,Y,,Z,U,nope\n", encoding="utf-8")
    result = runner.invoke(args=["fund", "import-roster", str(bad)])
    assert result.exit_code == 1
    assert "Line 3: first_name is empty" in result.output
    assert "Line 5: on_strike must be yes or no" in result.output
    assert len(members()) == 3


def test_roster_search_finds_by_last_name(treasurer_client):
    upload(treasurer_client, GOOD)
    page = treasurer_client.get("/admin/roster?q=smith").get_data(as_text=True)
    assert "Luis" in page and "Rosa" not in page


# --- linking an account to the roster -----------------------------------------------------


@pytest.fixture
def roster(fund):
    roster_service.import_roster(fund, GOOD.encode())
    db.session.commit()


def link(client, member_id, last_name):
    return client.post("/account/membership", data={"member_id": member_id, "last_name": last_name})


def test_applicant_links_by_member_id_and_last_name_ignoring_case_and_accents(client, create_user, roster):
    user = create_user("rosa@example.org", "applicant")
    sign_in(client, "rosa@example.org")
    response = link(client, "a-1", "nunez")
    assert response.status_code == 302
    assert members()["A-1"].user_id == user.id
    assert b"North Plant" in client.get("/account/membership").data


def test_wrong_last_name_is_refused_without_saying_which_part(client, create_user, roster):
    create_user("rosa@example.org", "applicant")
    sign_in(client, "rosa@example.org")
    wrong_name = link(client, "A-1", "Smith")
    wrong_id = link(client, "Z-99", "Núñez")
    assert wrong_name.status_code == wrong_id.status_code == 422
    assert b"could not confirm your membership with these details" in wrong_name.data
    assert b"could not confirm your membership with these details" in wrong_id.data
    assert members()["A-1"].user_id is None


def test_a_roster_entry_links_to_one_account_only(app, client, create_user, roster):
    first = create_user("rosa@example.org", "applicant")
    create_user("impostor@example.org", "applicant")
    sign_in(client, "rosa@example.org")
    link(client, "A-1", "Núñez")
    other = app.test_client()
    sign_in(other, "impostor@example.org")
    response = link(other, "A-1", "Núñez")
    assert response.status_code == 422
    assert b"could not confirm your membership with these details" in response.data  # says nothing of the link
    assert b"already linked" not in response.data
    assert members()["A-1"].user_id == first.id


def test_an_account_links_to_one_roster_entry_only(client, create_user, fund, roster):
    user = create_user("rosa@example.org", "applicant")
    roster_service.link_member(user, fund, member_id="A-1", last_name="Núñez")
    db.session.commit()
    with pytest.raises(services.LinkRefused):
        roster_service.link_member(user, fund, member_id="A-2", last_name="Smith")
    assert members()["A-2"].user_id is None
