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


#: The familiar "tú" in Spanish: its pronouns and possessives, and verb forms only "tú" uses (the imperatives and
#: the second person), so that the fund addresses every reader as "usted". Whole words only: "te" inside "teléfono",
#: "tu" inside "estatuto" or "té" (tea) do not count.
TU_WORDS = (
    "tú tu tus te ti contigo tuyo tuya tuyos tuyas "
    "puedes tienes quieres necesitas sabes estás eres vas has debes conoces crees das ves haces vives recibes "
    "puedas tengas quieras necesites hayas seas vayas "
    "podrás recibirás verás tendrás harás decidirás "
    "pediste hiciste enviaste recibiste escribiste elegiste donaste olvidaste pagaste iniciaste cerraste declaraste "
    "haz pon di sal elige escribe introduce revisa confirma inicia restablece descarga mira pide dona crea usa "
    "cambia regresa recarga vuelve responde repite aprueba avisa ejecuta declara explícale cuéntales dile "
    "inténtalo déjalo guárdalo cámbiale pregúntale respóndela escríbela indícalos contándote regístrate asegúrate"
).split()
TU = __import__("re").compile(r"(?<![\w%])(" + "|".join(TU_WORDS) + r")(?!\w)", __import__("re").IGNORECASE)
#: Words above that are also a third person ("el banco escribe", "la ayuda vuelve a estar"): counted only where
#: they open a sentence, as an imperative does.
THIRD_PERSON_TOO = {"escribe", "revisa", "confirma", "inicia", "descarga", "mira", "pide", "dona", "crea", "usa",
                    "cambia", "vuelve", "responde", "repite", "aprueba", "avisa", "ejecuta", "declara", "regresa",
                    "recarga", "restablece", "elige", "introduce"}


def tu_forms(text: str) -> list[str]:
    """The "tú" forms in a Spanish text (placeholders such as %(name)s and markup left out)."""
    import re
    text = re.sub(r"%\([^)]*\)[sd]|<[^>]+>|\{[^}]*\}", " ", text)
    found = []
    for match in TU.finditer(text):
        word = match.group(1).lower()
        if word in THIRD_PERSON_TOO:
            before = text[:match.start()].rstrip(" \"«")
            if not before and match.group(1).islower():  # a fragment: "pide %(amount)s para %(what)s"
                continue
            if before and before[-1] not in ".:!?¿¡(\n,":
                continue
            if before.endswith(",") and not re.search(r"(Por favor|Primero|Después|Ahora),$", before):
                continue
        found.append(match.group(1))
    return found


def test_tu_forms_are_found_and_usted_is_not():
    assert tu_forms("¿Olvidaste tu contraseña?") == ["Olvidaste", "tu"]
    assert tu_forms("Escribe la cantidad. Te enviaremos un enlace.") == ["Escribe", "Te"]
    assert tu_forms("Hola, %(name)s: Puedes volver. Por favor, revisa el formulario.") == ["Puedes", "revisa"]
    assert tu_forms("¿Olvidó su contraseña? Escriba la cantidad; le enviaremos su recibo. Puede volver.") == []
    assert tu_forms("El banco escribe débitos; la ayuda vuelve a estar pendiente. Un té en su teléfono.") == []
    assert tu_forms("pide %(amount)s para %(what)s; usa %(used)s MB") == []
    assert tu_forms("estatuto, tutor, tejido, %(tu)s, <a href=\"/tu\">su cuenta</a>") == []


def test_spanish_addresses_every_reader_as_usted():
    """Pages, mail and PDFs speak to members, donors and trustees in one register: "usted", never "tú"."""
    with open(ROOT / "fundapp/translations/es/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    familiar = {}
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found = [word for string in strings if string for word in tu_forms(string)]
        if message.id and found:
            familiar[str(message.id if isinstance(message.id, str) else message.id[0])] = found
    assert familiar == {}, f"{len(familiar)} Spanish message(s) say tú: {list(familiar.items())[:10]}"
