"""The donate page is rendered once for every anonymous visitor (per language and fund settings), and each visitor
still gets a CSRF token of their own in it: the page is the same for all of them but for that token."""
from __future__ import annotations

import contextlib
import re
import threading

import pytest
import sqlalchemy as sa
from flask import template_rendered

from fundapp import web
from fundapp.extensions import db
from tests.conftest import sign_in
from tests.donations.helpers import GIFT

TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    web._SAME_FOR_EVERYONE.clear()
    yield app
    app.config["WTF_CSRF_ENABLED"] = False


@contextlib.contextmanager
def counting(seen: list):
    here = threading.get_ident()

    def count(*_args, **_kwargs):
        if threading.get_ident() == here:  # not the local Stripe server's worker thread, which polls the queue
            seen.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def page_and_tokens(client, url="/donate"):
    response = client.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    tokens = set(TOKEN.findall(html))
    assert len(tokens) == 1, tokens  # the language switch and the form carry the same token
    return html, tokens.pop()


def test_each_visitor_gets_the_same_page_with_a_token_of_their_own(csrf_on, fund, localstripe):
    ana, ben = csrf_on.test_client(), csrf_on.test_client()
    rendered = []

    def count(_app, template, context, **_extra):
        rendered.append(template.name)

    with template_rendered.connected_to(count, csrf_on):
        ana_page, ana_token = page_and_tokens(ana)
        assert "donations/donate.html" in rendered
        rendered.clear()
        ben_page, ben_token = page_and_tokens(ben)
        assert rendered == []  # served from the first rendering
    assert ana_token != ben_token and ana_token not in ben_page
    assert ben_page == ana_page.replace(ana_token, ben_token)
    seen = []
    with counting(seen):
        page_and_tokens(ben)
    assert len(seen) == 1  # the fund's stamp (the fund itself is kept), and nothing else
    refused = ben.post("/donate", data={**GIFT, "csrf_token": ana_token})  # another visitor's token is no use
    assert refused.status_code == 400
    taken = ben.post("/donate", data={**GIFT, "csrf_token": ben_token})
    assert taken.status_code == 302


def test_the_saved_page_is_what_rendering_gives(csrf_on, fund):
    client = csrf_on.test_client()
    first, first_token = page_and_tokens(client)
    web._SAME_FOR_EVERYONE.clear()
    fresh, fresh_token = page_and_tokens(client)  # rendered again from the templates
    again, again_token = page_and_tokens(client)  # the saved rendering
    assert again.replace(again_token, "T") == fresh.replace(fresh_token, "T") == first.replace(first_token, "T")


def test_the_page_follows_the_funds_settings_the_language_and_who_is_signed_in(csrf_on, fund, create_user):
    client = csrf_on.test_client()
    english, _token = page_and_tokens(client)
    assert fund.name in english and "Give to the strike fund" in english
    fund.name = "Mill Workers' Hardship Fund"
    db.session.commit()
    renamed, _token = page_and_tokens(client)
    assert "Mill Workers&#39; Hardship Fund" in renamed
    with client.session_transaction() as session:
        session["language"] = "es"
    spanish, _token = page_and_tokens(client)
    assert "Donar al fondo de huelga" in spanish and "Give to the strike fund" not in spanish
    csrf_on.config["WTF_CSRF_ENABLED"] = False
    create_user("tess@example.org", "treasurer")
    member = csrf_on.test_client()
    sign_in(member, "tess@example.org")
    signed_in = member.get("/donate").get_data(as_text=True)
    assert "Sign out" in signed_in and "Striking member? Create an account" not in signed_in
