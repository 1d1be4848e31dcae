"""English and Spanish: the switch, the pages, the error pages, and a complete catalogue."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC
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


#: The modules whose words go out in mail or PDFs: what a reader keeps, so no English may stand in for Spanish.
MAIL_AND_PDF = ("fundapp/pdf_text.py", "fundapp/accounts/notices.py", "fundapp/accounts/services.py", "fundapp/accounts/membership.py",
                "fundapp/applications/services.py", "fundapp/donations/giving.py", "fundapp/donations/receipts.py",
                "fundapp/donations/portal.py", "fundapp/donations/booking.py", "fundapp/review/services.py",
                "fundapp/reporting/documents.py")
#: Words that are the same in both languages.
SAME_IN_SPANISH = {"Total", "cheque"}


def test_every_message_has_a_spanish_translation(tmp_path):
    """Extract the strings from today's code and templates; each must be translated, none fuzzy. The words of
    mail and PDFs (``MAIL_AND_PDF``) must moreover not be their English copied over."""
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "extract", "-F", str(ROOT / "babel.cfg"),
                    "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "."], capture_output=True,
                   check=True, cwd=ROOT)
    with open(pot, "rb") as f:
        extracted = [m for m in read_po(f) if m.id]
    wanted = {(m.context, m.id) for m in extracted}
    with open(ROOT / "fundapp/translations/es/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    done = {(m.context, m.id) for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(str(w[1]) for w in wanted - done)
    assert missing == [], f"{len(missing)} message(s) lack a Spanish translation: {missing[:10]}"
    assert len(wanted) > 100
    sent = [m for m in extracted if {path for path, _line in m.locations} & set(MAIL_AND_PDF)]
    english = sorted(str(m.id) for m in sent if catalog.get(m.id, context=m.context).string == m.id
                     and m.id not in SAME_IN_SPANISH)
    assert english == [], f"{len(english)} message(s) of mail or PDFs are English in the Spanish catalogue: {english}"
    assert {path for m in sent for path, _line in m.locations} >= set(MAIL_AND_PDF)  # each module still speaks


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


def _english_fragments(words) -> set[str]:
    """The English words of a ``reports`` words dataclass, cut at their placeholders, as text a PDF would show."""
    import dataclasses
    import re
    pieces = set()
    for field in dataclasses.fields(words):
        value = getattr(words, field.name)
        if isinstance(value, str):
            pieces |= {piece.strip(" ,.:()") for piece in re.split(r"\{\w+\}", value)}
    return {piece for piece in pieces if len(piece) > 3 and piece not in SAME_IN_SPANISH}


def test_spanish_pdfs_carry_no_english(app, fund, create_user):
    """Each PDF a donor or a member receives, rendered in Spanish from the catalogue's words: not one of the
    English labels leaks through (a msgstr left out falls back to its English msgid, and shows here)."""
    import dataclasses
    import io
    from datetime import date, datetime

    from pypdf import PdfReader

    from fundapp.pdf_text import award_words, receipt_words, statement_words
    from fundapp.reporting import documents
    from reports import grants, receipt, statement

    def text(pdf: bytes) -> str:
        return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)

    with app.test_request_context():
        words = {"receipt": receipt_words("es"), "statement": statement_words("es"), "award": award_words("es")}
        report = documents.report_pdf(fund, "monthly", date.today(), month=date.today().strftime("%Y-%m"),
                                      language="es")
    for name, spanish in words.items():
        english = type(spanish)()
        same = [f.name for f in dataclasses.fields(spanish)
                if getattr(spanish, f.name) == getattr(english, f.name) and getattr(spanish, f.name) not in SAME_IN_SPANISH]
        assert same == [], f"{name}: {same} are still in English"
    when = datetime(2026, 11, 3, 15, tzinfo=UTC)
    gift = receipt.ReceiptData(
        fund_name="Fondo", legal_name="Local 7 Strike Relief Inc.", ein="12-3456789", legal_form="501(c)(5)",
        contact_email="fondo@example.org", receipt_number="2026-000042", donor_name="Ana", gift_date=date(2026, 11, 3),
        amount_cents=2_500, refunded_cents=0, currency="USD", method="cheque", monthly=True, dedication_kind="honor",
        dedication_name="Joe Hill", language="es", issued_at=when, signatory_name="Rosa", words=words["receipt"])
    letter = grants.AwardLetterData(
        fund_name="Fondo", legal_name="Local 7", case_id=12, member_name="Ana", purpose="alquiler",
        amount_approved_cents=40_000, amount_requested_cents=50_000, payee="Casa", note="Nota", currency="USD",
        language="es", decided_on=date(2026, 11, 3), signatory_name="Rosa", words=words["award"])
    year = statement.StatementData(
        fund_name="Fondo", legal_name="Local 7", ein="12-3456789", legal_form="501(c)(3)",
        contact_email="fondo@example.org", donor_name="Ana", year=2026, currency="USD", language="es",
        gifts=[statement.StatementGift(date(2026, 3, 1), "2026-000001", 2_500, 500, 100)], issued_at=when,
        words=words["statement"])
    rendered = {
        "receipt": [text(receipt.render(gift)), text(receipt.render(dataclasses.replace(gift, refunded_cents=500))),
                    text(receipt.render(dataclasses.replace(gift, disputed_cents=500, legal_form="other"))),
                    text(receipt.render(dataclasses.replace(gift, legal_form="501(c)(3)", method="card")))],
        "statement": [text(statement.render(year))],
        "award": [text(grants.render_award_letter(letter)),
                  text(grants.render_award_letter(dataclasses.replace(letter, amount_paid_cents=10_000))),
                  text(grants.render_award_letter(dataclasses.replace(letter, amount_paid_cents=40_000)))],
    }
    for name, texts in rendered.items():
        for shown in texts:
            leaks = sorted(piece for piece in _english_fragments(type(words[name])()) if piece in shown)
            assert leaks == [], f"English in the Spanish {name}: {leaks}"
            assert "página 1 de 1" not in shown or "page 1 of" not in shown
    board = " ".join(text(report).split())
    assert "Informe mensual a la junta" in board and "Monthly report" not in board and "page 1 of" not in board


def test_the_pdf_builders_english_is_the_catalogues_msgids(app):
    """``reports/`` keeps English defaults so it draws without the app; they are the msgids word for word, so
    an English PDF reads the same whichever way its words came."""
    from fundapp.pdf_text import award_words, page_words, receipt_words, statement_words
    from reports.grants import AwardWords
    from reports.receipt import ReceiptWords
    from reports.statement import StatementWords
    from reports.style import PageWords

    with app.test_request_context():
        assert receipt_words("en") == ReceiptWords() and receipt_words("xx") == ReceiptWords()
        assert statement_words("en") == StatementWords()
        assert award_words("en") == AwardWords()
        assert page_words("en") == PageWords()


def test_a_web_request_is_not_a_grant_application_in_spanish():
    """"solicitud" is a member's application for a grant; a web request (the 400 page, an audit record's
    request) is a "petición", so the two never read as one."""
    import re
    with open(ROOT / "fundapp/translations/es/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    mixed = [str(m.id) for m in catalog if isinstance(m.id, str) and re.search(r"\brequest\b", m.id, re.I)
             and "solicitud" in m.string.lower()]
    assert mixed == []


def test_words_translated_once_for_a_page_are_the_words_translated_in_a_row(app):
    """The review queue looks a row's sentences up once for the page (``_`` with its placeholders kept, then
    ``|format``; ``review.views._waiting_days``): the same text and the same escaping as ``_`` and ``ngettext``
    in each row, in English and in Spanish."""
    from flask_babel import force_locale

    from fundapp.review.views import _waiting_days

    in_a_row = app.jinja_env.from_string(
        '{{ _("%(left)s left of the %(cap)s strike cap", left=left, cap=cap) }}|'
        '{{ _("%(given)s of %(needed)s approvals", given=given, needed=3) }}|'
        '{% for n in days %}{{ ngettext("%(num)s day", "%(num)s days", n) }},{% endfor %}')
    once = app.jinja_env.from_string(
        '{% set strike = _("%(left)s left of the %(cap)s strike cap", left="%(left)s", cap="%(cap)s") %}'
        '{% set approvals = _("%(given)s of %(needed)s approvals", given="%(given)s", needed="%(needed)s") %}'
        '{{ strike|format(left=left, cap=cap) }}|{{ approvals|format(given=given, needed=3) }}|'
        '{% for n in days %}{{ waiting_days(n) }},{% endfor %}')
    values = {"left": "<b>$1 & 2</b>", "cap": "$1,500.00", "given": "<i>2</i>", "days": [0, 1, 2, 21]}
    with app.test_request_context():
        for language, word in (("en", "strike cap"), ("es", "tope")):
            with force_locale(language):
                expected = in_a_row.render(values)
                assert word in expected and "&lt;b&gt;$1 &amp; 2&lt;/b&gt;" in expected
                assert once.render(values, waiting_days=_waiting_days) == expected
