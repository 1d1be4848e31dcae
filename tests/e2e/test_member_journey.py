"""A striking member on a phone, in Spanish: sign up, follow the mailed link, confirm membership; every page
accessible."""
from __future__ import annotations

import re

from fundapp.accounts import membership as roster_service
from fundapp.accounts import services
from fundapp.accounts.models import Member
from fundapp.extensions import db
from tests.e2e.conftest import axe_violations
from tests.e2e.helpers import shot
from tests.factories import GOOD


def test_member_signs_up_in_spanish_and_confirms_membership(live_server, phone, fund, smtp):
    roster_service.import_roster(fund, GOOD.encode())
    db.session.commit()
    page = phone
    page.goto(live_server + "/")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Español").click()
    assert page.locator("html").get_attribute("lang") == "es"
    shot(page, "01-home-es")
    page.locator("main").get_by_role("link", name="Crear una cuenta").first.click()
    assert axe_violations(page) == []

    # A mistake first: the form comes back with the message and what was typed
    page.get_by_label("Su nombre").fill("Rosa Núñez")
    page.get_by_label("Correo electrónico").fill("rosa@example.org")
    page.get_by_label("Contraseña", exact=True).fill("corta")
    page.get_by_label("Repita la contraseña").fill("corta")
    page.get_by_role("button", name="Crear cuenta").click()
    assert page.get_by_label("Correo electrónico").input_value() == "rosa@example.org"
    assert page.locator(".error").count() >= 1
    shot(page, "02-register-error-es")
    assert axe_violations(page) == []

    page.get_by_label("Contraseña", exact=True).fill("huelga hasta ganar")
    page.get_by_label("Repita la contraseña").fill("huelga hasta ganar")
    page.get_by_role("button", name="Crear cuenta").click()
    assert page.get_by_role("heading", name="Revise su correo").is_visible()
    assert axe_violations(page) == []
    # the address is proven by the link mailed to it (the same page shows when the address has an account)
    mail, = [m for m in smtp.messages if m["To"] == "rosa@example.org"]
    assert mail["Subject"] == "Termine de crear su cuenta"
    path = re.search(r"https?://[^/\s]+(/register/\S+)", mail.get_body(("plain",)).get_content()).group(1)
    page.goto(live_server + path)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Terminar de crear mi cuenta").click()
    page.wait_for_url("**/account/membership")
    assert axe_violations(page) == []

    page.get_by_label("Número de miembro").fill("a-1")
    page.get_by_label("Apellido").fill("nunez")
    page.get_by_role("button", name="Confirmar mi membresía").click()
    page.wait_for_url("**/account/membership")
    assert page.get_by_text("North Plant").is_visible()
    shot(page, "03-membership-confirmed-es")
    assert axe_violations(page) == []
    assert page.problems == []  # no CSP violation, no script error

    member = db.session.scalar(db.select(Member).filter_by(member_id="A-1"))
    assert member.user_id == services.find_user_by_email("rosa@example.org").id
