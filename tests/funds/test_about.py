"""The public "About the fund" page: who runs it, the rules in plain words, how to apply and to give."""
from __future__ import annotations

from fundapp.applications.services import update_rules
from fundapp.extensions import db


def test_about_says_who_decides_and_the_rules_in_force(client, fund, create_user):
    fund.legal_name, fund.postal_address, fund.contact_email = "Local 12 Hardship Fund", "1 Union Sq\nOakland", \
        "fund@local12.org"
    create_user("tom@example.org", "trustee", name="Tom Trustee")
    create_user("tess@example.org", "treasurer", name="Tess Treasurer")
    create_user("sam@example.org", "applicant", name="Sam Striker")
    update_rules(fund, actor=None, weekly_cap_cents=400_00, dual_approval_above_cents=600_00, approvals_needed=3)
    db.session.commit()

    page = client.get("/about").get_data(as_text=True)
    assert "Local 12 Hardship Fund holds the fund." in page and "fund@local12.org" in page
    assert "Its trustees decide every grant: Tom Trustee." in page and "Treasurer: Tess Treasurer." in page
    assert "Sam Striker" not in page  # members are never named
    assert "up to $400.00 in any 7 days" in page
    assert "A grant above $600.00 needs the approval of 3 different trustees." in page
    assert "Rules version 2." in page
    assert 'href="/about"' in client.get("/").get_data(as_text=True)  # linked from every page's footer

    spanish = client.get("/about", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "Las reglas, en palabras sencillas" in spanish and "hasta $400.00 en cualquier periodo de 7 días" in spanish
