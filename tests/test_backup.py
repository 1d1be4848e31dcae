"""Backup and restore through the commands: a restored backup has the same books (the ledger CSV is
identical), passes verify-audit and bean-check, serves the same documents; a damaged backup or a
database that already holds a fund is refused."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fundapp import create_app
from fundapp.applications.documents import open_document
from fundapp.applications.models import ApplicationDocument
from fundapp.config import normalise_database_url
from fundapp.extensions import db
from fundapp.funds.services import get_or_create_fund
from fundapp.ledger import exports
from tests.conftest import base_config, make_pg_database
from tests.worlds import someone_elses_world

BEAN_CHECK = str(Path(sys.executable).parent / "bean-check")


def ledger_csv(fund) -> str:
    out = io.StringIO()
    exports.write_csv(fund, out)
    return out.getvalue()


def invoke(app, *args):
    """Run a command against ``app`` (inside its own app context: Flask's commands reuse a context already
    pushed, and the test holds the suite's)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


@pytest.fixture
def empty_target(tmp_path):
    """A new, empty database of the same kind as the suite's, and an empty documents folder."""
    server = os.environ.get("FUNDAPP_TEST_DATABASE_URL")
    if server:
        url, drop = make_pg_database(normalise_database_url(server))
    else:
        url, drop = "sqlite:///" + str(tmp_path / "restored.sqlite3"), (lambda: None)
    app = create_app(base_config(url, DOCUMENTS_DIR=str(tmp_path / "restored-documents")))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop()


def test_a_restored_backup_has_the_same_books_documents_and_audit_trail(app, fund, runner, tmp_path, empty_target):
    ids = someone_elses_world(fund, "backup")
    original_csv = ledger_csv(fund)
    original_document = open_document(db.session.get(ApplicationDocument, ids["document_id"]), actor=None)
    db.session.commit()

    made = runner.invoke(args=["fund", "backup", "-o", str(tmp_path / "backup")])
    assert made.exit_code == 0, made.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["counts"]["journal_entries"] >= 3 and manifest["counts"]["application_documents"] == 1
    assert set(manifest["files"]) == {"documents.tar.gz",
                                      "database.dump" if manifest["database"] == "postgresql" else "database.sqlite3"}

    restored = invoke(empty_target, "fund", "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    assert "counts, migration and audit chain match" in restored.output
    verified = invoke(empty_target, "fund", "verify-audit")
    assert verified.exit_code == 0 and "Audit trail intact" in verified.output
    with empty_target.app_context():
        copy = get_or_create_fund(empty_target.config["FUND_DEFAULTS"])
        assert ledger_csv(copy) == original_csv
        document = db.session.get(ApplicationDocument, ids["document_id"])
        assert open_document(document, actor=None) == original_document
        db.session.rollback()
    beancount = tmp_path / "restored.beancount"
    exported = invoke(empty_target, "fund", "export-ledger", "--format", "beancount", "-o", str(beancount))
    assert exported.exit_code == 0, exported.output
    check = subprocess.run([BEAN_CHECK, str(beancount)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_a_backup_taken_while_others_write_restores(app, fund, runner, tmp_path, empty_target):
    """Writes land during the copy (a thread signs people up the whole time): the manifest describes the copy
    itself, so the restore's checks pass."""
    import threading

    from fundapp.accounts import services as accounts

    someone_elses_world(fund, "busy")
    stop = threading.Event()

    def busy():
        with app.app_context():
            n = 0
            while not stop.is_set():
                n += 1
                accounts.create_user(fund, email=f"busy{n}@example.org", name=f"Busy {n}",
                                     password="a long passphrase here", roles=["applicant"])
                db.session.commit()

    writer = threading.Thread(target=busy)
    writer.start()
    try:
        made = runner.invoke(args=["fund", "backup", "-o", str(tmp_path / "backup")])
    finally:
        stop.set()
        writer.join(30)
    assert made.exit_code == 0, made.output
    restored = invoke(empty_target, "fund", "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output


def test_restore_refuses_a_database_with_a_fund_and_a_damaged_backup(app, fund, runner, tmp_path, empty_target):
    someone_elses_world(fund, "refuse")
    assert runner.invoke(args=["fund", "backup", "-o", str(tmp_path / "backup")]).exit_code == 0
    over_live = runner.invoke(args=["fund", "restore", str(tmp_path / "backup")])
    assert over_live.exit_code == 1 and "already holds data" in over_live.output

    damaged = next(p for p in (tmp_path / "backup").iterdir() if p.name.startswith("database."))
    body = bytearray(damaged.read_bytes())
    body[len(body) // 2] ^= 0xFF
    damaged.write_bytes(bytes(body))
    refused = invoke(empty_target, "fund", "restore", str(tmp_path / "backup"))
    assert refused.exit_code == 1 and "missing or damaged" in refused.output
    with empty_target.app_context():  # nothing was restored
        from sqlalchemy import inspect

        assert "funds" not in inspect(db.engine).get_table_names()
        db.engine.dispose()

    again = runner.invoke(args=["fund", "backup", "-o", str(tmp_path / "backup")])
    assert again.exit_code == 1 and "not empty" in again.output  # never over an earlier backup
