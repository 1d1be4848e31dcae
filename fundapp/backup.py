"""Backups and restores: the database and the applicants' documents, with a manifest.

``flask fund backup -o DIR`` writes into a new folder DIR:

- ``database.sqlite3`` (SQLite, by SQLite's online backup API: a consistent copy while
  the app keeps running) or ``database.dump`` (PostgreSQL, ``pg_dump --format=custom``,
  one consistent snapshot);
- ``documents.tar.gz``: the documents folder;
- ``manifest.json``: when, which migration, how many rows of the tables that matter,
  the audit chain's last hash, and the SHA-256 of each file.

``flask fund restore DIR`` puts a backup into an **empty** database and an empty (or
missing) documents folder, checking every file's SHA-256 first, then checks what it
restored: the migration, the row counts and the audit chain against the manifest. It
refuses a database that already holds a fund's data: a restore never mixes two sets of
books. Point ``DATABASE_URL`` at a new database to restore into.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess  # nosec B404 # runs pg_dump and pg_restore only, with fixed arguments and no shell
import tarfile
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from fundapp.extensions import db, utcnow

FORMAT = 1
COUNTED = ("funds", "users", "members", "applications", "application_documents", "grant_payments", "donations",
           "journal_entries", "postings", "audit_records")


class BackupError(RuntimeError):
    """Why a backup or restore was refused or failed, for the operator."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _facts(conn) -> dict:
    """What a backup must hold, read through ``conn``: the migration, the row counts, the audit chain's end."""
    from fundapp.audit.models import AuditRecord

    return {
        "revision": conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar(),
        "counts": {table: conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar()
                   for table in COUNTED},
        "audit_tail": conn.execute(sa.select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1)).scalar(),
    }


def _libpq_url() -> str:
    """The database URL as pg_dump and pg_restore take it (without SQLAlchemy's driver name)."""
    url = db.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def backup(target: Path) -> dict:
    """Write a backup into the new folder ``target``; returns the manifest."""
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: a backup goes into a new folder")
    target.mkdir(parents=True, exist_ok=True)
    dialect = db.engine.dialect.name
    db.session.commit()
    manifest = {"format": FORMAT, "created_at": utcnow().isoformat(), "database": dialect, "files": {}}
    # The manifest describes the copy itself, never the live database a moment before or after it.
    if dialect == "sqlite":
        name = "database.sqlite3"
        source = sqlite3.connect(_sqlite_path())
        copy = sqlite3.connect(target / name)
        try:
            with copy:
                source.backup(copy)  # page by page, consistent even while others write
        finally:
            copy.close()
            source.close()
        engine = sa.create_engine(f"sqlite:///{target / name}")
        with engine.connect() as conn:
            manifest |= _facts(conn)
        engine.dispose()
    elif dialect == "postgresql":
        name = "database.dump"
        with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():  # one snapshot: pg_dump dumps exactly what this transaction sees
                snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar()
                manifest |= _facts(conn)
                _run(["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}", "--file",
                      str(target / name), _libpq_url()])
    else:
        raise BackupError(f"no backup method for {dialect}")
    documents = Path(current_app.config["DOCUMENTS_DIR"])
    with tarfile.open(target / "documents.tar.gz", "w:gz") as archive:
        if documents.exists():
            archive.add(documents, arcname="documents")
    for path in sorted(target.iterdir()):
        manifest["files"][path.name] = _sha256(path)
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is needed (apt-get install postgresql-client)")
    done = subprocess.run(command, capture_output=True, text=True)  # nosec B603 # a fixed program, no shell
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-500:]}")


def _holds_data() -> bool:
    """Any row in any table (but the migration marker): a restore replaces the whole database, so it must
    replace nothing."""
    for table in sa.inspect(db.engine).get_table_names():
        if table != "alembic_version" and db.session.scalar(sa.select(sa.func.count()).select_from(sa.table(table))):
            return True
    return False


def restore(source: Path) -> dict:
    """Restore the backup in ``source`` into this (empty) database and documents folder; returns the manifest
    after checking the restored counts, migration and audit chain against it."""
    from fundapp.audit.services import verify_chain

    manifest_path = source / "manifest.json"
    if not manifest_path.exists():
        raise BackupError(f"{source} holds no manifest.json: not a fundapp backup")
    manifest = json.loads(manifest_path.read_text())
    for name, digest in manifest["files"].items():
        if not (source / name).exists() or _sha256(source / name) != digest:
            raise BackupError(f"{name} is missing or damaged (its SHA-256 differs from the manifest)")
    dialect = db.engine.dialect.name
    if dialect != manifest["database"]:
        raise BackupError(f"this backup is of a {manifest['database']} database; DATABASE_URL is {dialect}")
    if _holds_data():
        raise BackupError("this database already holds data (a fund's, or something else's): restore into a new, "
                          "empty database")
    documents = Path(current_app.config["DOCUMENTS_DIR"])
    if documents.exists() and any(documents.iterdir()):
        raise BackupError(f"the documents folder {documents} is not empty")
    db.session.remove()
    if dialect == "sqlite":
        path = _sqlite_path()
        db.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        backup_db = sqlite3.connect(source / "database.sqlite3")
        live = sqlite3.connect(path)
        try:
            with live:
                backup_db.backup(live)
        finally:
            live.close()
            backup_db.close()
    else:
        db.engine.dispose()
        with db.engine.begin() as conn:  # an empty database may still hold an empty schema from migrations
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        db.engine.dispose()
        _run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", _libpq_url(),
              str(source / "database.dump")])
    documents.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source / "documents.tar.gz", "r:gz") as archive:
        for member in archive.getmembers():  # only regular files and folders under documents/, nothing else
            if not (member.isfile() or member.isdir()) or not member.name.startswith("documents"):
                raise BackupError(f"unexpected entry in documents.tar.gz: {member.name}")
            relative = Path(member.name).relative_to("documents")
            if ".." in relative.parts:
                raise BackupError(f"unexpected entry in documents.tar.gz: {member.name}")
            if member.isfile():
                (documents / relative).parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as data, (documents / relative).open("wb") as out:
                    shutil.copyfileobj(data, out)
    restored = _facts(db.session.connection())
    expected = {key: manifest[key] for key in restored}
    if restored != expected:
        raise BackupError(f"the restored database differs from the manifest: {restored} != {expected}. It now "
                          "holds a partial restore: drop it, make a new empty one and restore again.")
    report = verify_chain()
    if report.first_broken_id is not None:
        raise BackupError(f"the restored audit trail is broken at record {report.first_broken_id}")
    return manifest
