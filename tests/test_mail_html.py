"""Every mail goes as plain text with an HTML alternative built from the same words: escaped, its addresses
links, the first one a button, the reader's language, the attachment still attached."""
from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

from flask_babel import force_locale

from fundapp.extensions import db
from fundapp.mail import REDACTED, action_link, deliver_pending, html_part, queue_mail

BASE = "https://fund.example.org"


class Anchors(HTMLParser):
    """The links of an HTML document, and the text a reader sees (what a mail client shows)."""

    def __init__(self, html: str):
        super().__init__()
        self.links, self.text, self.tags = [], [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def button(html: str) -> str:
    return next(a["href"] for a in Anchors(html).links if a.get("class") == "action")


def test_a_members_words_are_escaped_never_run(app):
    question = "What is <script>alert('x')</script> & <b>why</b>?"
    body = f"Hello Ana,\n\nThe trustees ask:\n\n{question}\n\nAnswer it here: {BASE}/my/applications/3"
    html = html_part("A question about your application", body, fund_name="Local 7 <Fund>", language="en")
    parsed = Anchors(html)
    assert "script" not in parsed.tags and "b" not in parsed.tags
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;" in html
    assert question in "".join(parsed.text)  # the reader sees the question exactly as it was typed
    assert "Local 7 <Fund>" in "".join(parsed.text) and "Local 7 &lt;Fund&gt;" in html


def test_every_address_is_a_link_and_the_first_is_the_button(app):
    body = (f"Hello,\n\nYour gift and its receipt, any time: {BASE}/thanks/abc.\n\n"
            f"To stop your monthly gift, sign in: {BASE}/donor/login\n\nLocal 7 Fund")
    html = html_part("Thank you", body, fund_name="Local 7 Fund", language="en", base_url=BASE)
    hrefs = [a["href"] for a in Anchors(html).links]
    assert action_link(body) == f"{BASE}/thanks/abc"  # the sentence's full stop is not part of the link
    assert button(html) == f"{BASE}/thanks/abc"
    assert f"{BASE}/thanks/abc" in hrefs and f"{BASE}/donor/login" in hrefs and BASE in hrefs  # footer
    assert hrefs.count(f"{BASE}/thanks/abc") == 2  # in its sentence, and as the button under it
    assert 'lang="en"' in html and "Open this page" in html and "This message was sent by Local 7 Fund." in html
    for kind in ("<style", "<link", "<img", "<script", "src="):
        assert kind not in html


def test_a_link_on_a_line_of_its_own_becomes_the_button_and_is_not_shown_twice(app):
    body = f"Hello,\n\nOpen this link within an hour:\n\n{BASE}/reset/tok.en.value\n\nIf not you, ignore this."
    html = html_part("Reset your password", body, language="en")
    assert [a["href"] for a in Anchors(html).links] == [f"{BASE}/reset/tok.en.value"]
    assert button(html) == f"{BASE}/reset/tok.en.value"
    assert "This message was sent by the hardship fund." in html  # no fund name known


def test_spanish_readers_get_lang_es_and_spanish_words_around_the_text(app):
    body = f"Hola Ana,\n\nSu solicitud: {BASE}/my/applications/3"
    html = html_part("Su solicitud", body, fund_name="Fondo", language="es")
    assert re.search(r'<html lang="es">', html)
    assert "Abrir esta página" in html and "Este mensaje lo envió Fondo." in html
    assert "Open this page" not in html


def test_the_queued_language_is_the_one_the_words_were_written_in(app, fund):
    with force_locale("es"):
        spanish = queue_mail("ana@example.org", "Hola", "Cuerpo")
    english = queue_mail("bob@example.org", "Hello", "Body")
    given = queue_mail("eva@example.org", "Hola", "Cuerpo", language="es")
    assert (spanish.language, english.language, given.language) == ("es", "en", "es")


def test_a_sent_message_is_text_then_html_with_the_pdf_still_attached(app, fund, smtp):
    body = f"Hello Dora,\n\nThank you. Your gift, any time: {BASE}/thanks/t1\n\n{fund.name}"
    queue_mail("dora@example.org", "Thank you: receipt 2026-0001", body, attachment=("receipt-2026-0001.pdf",
                                                                                    b"%PDF-1.4 test"))
    db.session.commit()
    [email] = smtp.messages
    assert email.get_content_type() == "multipart/mixed"
    alternative, attached = email.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    text = email.get_body(("plain",)).get_content().replace("\r\n", "\n")  # SMTP lines end in CRLF
    html = email.get_body(("html",)).get_content()
    assert text.strip() == body and button(html) == f"{BASE}/thanks/t1" and fund.name in html
    assert attached.get_filename() == "receipt-2026-0001.pdf" and attached.get_content() == b"%PDF-1.4 test"


def test_the_log_gets_the_redacted_text_only_never_the_html(app, fund, caplog):
    caplog.set_level(logging.INFO)
    link = "http://127.0.0.1:5000/reset/abcdefghij.abcdef.abcdefghijkl"
    queue_mail("ana@example.org", "Reset your password", f"Hello,\n\nOpen this link:\n\n{link}\n")
    db.session.commit()
    assert deliver_pending() == (1, 0)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert REDACTED in logged and link not in logged and "abcdefghij" not in logged
    assert "<a " not in logged and "<html" not in logged


def test_the_link_to_act_on_goes_above_the_sign_off():
    from fundapp.mail import before_signature

    body = "Hello Rosa,\n\nThe trustees have a question.\n\nLocal 7 Fund"
    assert before_signature(body, "Your application: https://x/my/3", "Local 7 Fund") == \
        "Hello Rosa,\n\nThe trustees have a question.\n\nYour application: https://x/my/3\n\nLocal 7 Fund"
    # a body that does not end with the signature keeps its words and gets the paragraph last
    assert before_signature("Hello", "Link: https://x", "Local 7 Fund") == "Hello\n\nLink: https://x"
