"""A member's documents have a quota across all their applications (issue 18, item 7): withdrawing and starting
again makes no room, since withdrawn applications keep their documents until they are purged."""
from __future__ import annotations

import io

from fundapp.applications.models import Application, ApplicationDocument
from fundapp.extensions import db
from tests.factories import ANSWERS, PDF, striker
from tests.security_figures import DOCUMENTS_PER_MEMBER

MB = 1024 * 1024


def documents() -> int:
    db.session.rollback()
    return db.session.scalar(db.select(db.func.count(ApplicationDocument.id)))


def save_with(client, *files):
    return client.post("/apply", data={**ANSWERS, "documents": [(io.BytesIO(body), name) for name, body in files],
                                       "save": "Save"}, content_type="multipart/form-data")


def test_withdrawing_and_starting_again_makes_no_room_beyond_the_quota(app, client, create_user, roster):
    limit = app.config["DOCUMENTS_MAX_PER_MEMBER"]
    per_application = app.config["DOCUMENTS_PER_APPLICATION"]
    assert limit == DOCUMENTS_PER_MEMBER
    striker(client, create_user, roster)
    for round_ in range(limit // per_application):
        assert save_with(client, *[(f"bill-{round_}-{n}.pdf", PDF) for n in range(per_application)]).status_code == 302
        draft = db.session.scalar(db.select(Application).filter_by(status="draft"))
        assert client.post(f"/my/{draft.id}/withdraw").status_code == 302
    assert documents() == limit
    page = client.get("/apply").get_data(as_text=True)  # a fresh draft: the form says where the member stands
    assert f"Your documents so far, across all your applications: {limit} of {limit}" in page
    refused = save_with(client, ("one-more.pdf", PDF))
    assert refused.status_code == 422
    assert f"You can keep at most {limit} documents across all your applications" in refused.get_data(as_text=True)
    assert documents() == limit


def test_the_total_size_is_limited_too(app, client, create_user, roster):
    app.config.update(DOCUMENTS_MAX_TOTAL_BYTES=3 * MB)
    striker(client, create_user, roster)
    big = PDF + b"0" * (MB + MB // 5)  # 1.2 MB each
    assert save_with(client, ("a.pdf", big), ("b.pdf", big)).status_code == 302
    page = client.get("/apply").get_data(as_text=True)
    assert "2 of 20, 2.4 MB of 3 MB" in page
    refused = save_with(client, ("c.pdf", big))
    assert refused.status_code == 422
    assert "Your documents may take at most 3 MB in all, across your applications; you use 2.4 MB" in \
        refused.get_data(as_text=True)
    assert documents() == 2
    assert save_with(client, ("small.pdf", PDF)).status_code == 302  # what still fits is taken
    assert documents() == 3
