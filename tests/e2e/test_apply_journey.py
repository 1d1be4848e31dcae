"""A striker on a phone, in Spanish: applies for rent help with a PDF lease and sees it sent; a second
application is refused with the rule quoted; another member cannot open the lease by its URL."""
from __future__ import annotations

from playwright.sync_api import expect

from fundapp.accounts import membership as roster_service
from fundapp.applications.models import Application
from fundapp.extensions import db
from tests.conftest import PASSWORD, wait_for
from tests.e2e.conftest import axe_violations
from tests.e2e.helpers import shot
from tests.factories import GOOD, PDF


def test_striker_applies_for_rent_in_spanish_with_a_lease(live_server, phone, browser, fund, create_user):
    roster_service.import_roster(fund, GOOD.encode())
    rosa = create_user("rosa@example.org", "applicant", name="Rosa Núñez", language="es")
    roster_service.link_member(rosa, fund, member_id="A-1", last_name="Núñez")
    db.session.commit()
    page = phone
    page.goto(live_server + "/login")
    page.get_by_label("Email address").fill("rosa@example.org")  # the sign-in page follows the browser (English)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()  # then Rosa's own language, Spanish
    page.get_by_role("link", name="Mis solicitudes").click()
    page.get_by_role("link", name="Solicitar una ayuda").click()
    expect(page.get_by_text("Ahora puede pedir hasta $300.00.")).to_be_visible()
    shot(page, "30-apply-es")
    assert axe_violations(page) == []

    page.get_by_label("¿Para qué es la ayuda?").select_option("rent")
    page.get_by_label("¿Cuánto necesita? (dólares)").fill("275")
    page.get_by_label("¿Cuántas personas viven en su hogar, contándose usted?").fill("3")
    page.get_by_label("Su dirección").fill("12 Mill St")
    page.get_by_label("Mi arrendador o mi banco hipotecario").check()
    page.get_by_label("Su nombre").fill("Mill St Rentals")
    page.get_by_label("Cómo pagarles (dirección, cuenta o número de referencia)").fill("Cuenta 7781")
    page.get_by_label("¿Para qué es el dinero?").fill("El alquiler de diciembre vence y no tengo pago de huelga.")
    page.get_by_label("Documentos (PDF, o fotos JPEG o PNG)").set_input_files(
        files=[{"name": "contrato.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.get_by_label("Lo que escribí es verdad", exact=False).check()
    page.get_by_role("button", name="Enviar mi solicitud").click()
    expect(page.get_by_text("Enviada el")).to_be_visible()
    shot(page, "31-submitted-es")
    assert axe_violations(page) == []

    page.goto(live_server + "/apply")
    expect(page.get_by_text("Las normas del fondo permiten una solicitud abierta a la vez")).to_be_visible()
    assert page.problems == [] or all("409" in p for p in page.problems)

    application = wait_for(lambda: db.session.scalar(db.select(Application)))
    lease = application.documents[0]
    create_user("ben@example.org", "applicant")
    other = browser.new_context(viewport={"width": 390, "height": 844})
    snoop = other.new_page()
    snoop.goto(live_server + "/login")
    snoop.get_by_label("Email address").fill("ben@example.org")
    snoop.get_by_label("Password").fill(PASSWORD)
    snoop.get_by_role("button", name="Sign in").click()
    response = snoop.goto(f"{live_server}/documents/{lease.id}")
    assert response.status == 404
    other.close()
