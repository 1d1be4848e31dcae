"""English and Spanish: the switch, the pages, the error pages, and a complete catalogue."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from tests.conftest import sign_in

ROOT = Path(__file__).resolve().parent.parent


def test_browser_language_picks_spanish(client, fund):
    page = client.get("/", headers={"Accept-Language": "es-MX,es;q=0.9"}).get_data(as_text=True)
    assert '<html lang="es">' in page
    assert "Crea una cuenta" in page or "Crear una cuenta" in page
    assert "Create an account" not in page


def test_language_switch_is_kept_for_the_visit(client, fund):
    response = client.post("/language", data={"language": "es", "next": "/login"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="es">' in page
    assert "Iniciar sesión" in page or "Inicia sesión" in page
    client.post("/language", data={"language": "en", "next": "https://evil.example/"})
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_error_pages_render_in_spanish(client, create_user):
    client.post("/language", data={"language": "es"})
    not_found = client.get("/no-such-page")
    assert not_found.status_code == 404
    text = not_found.get_data(as_text=True)
    assert '<html lang="es">' in text and "We could not find that page" not in text
    create_user("ana@example.org", "applicant", language="es")
    sign_in(client, "ana@example.org")
    forbidden = client.get("/admin/roster")
    assert forbidden.status_code == 403
    assert "You do not have access" not in forbidden.get_data(as_text=True)


def test_validation_messages_are_translated(client, fund):
    client.post("/language", data={"language": "es"})
    response = client.post("/register", data={"name": "Ana", "email": "ana@example.org",
                                              "password": "short", "confirm": "short", "language": "es"})
    assert response.status_code == 422
    assert "Use at least" not in response.get_data(as_text=True)


def test_every_message_has_a_spanish_translation(tmp_path):
    """Extract the strings from today's code and templates; each must be translated, none fuzzy."""
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "extract", "-F", str(ROOT / "babel.cfg"),
                    "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "--no-location", str(ROOT)], capture_output=True,
                   check=True, cwd=ROOT)
    with open(pot, "rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with open(ROOT / "fundapp/translations/es/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    done = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(str(w) for w in wanted - done)
    assert missing == [], f"{len(missing)} message(s) lack a Spanish translation: {missing[:10]}"
    assert len(wanted) > 100
