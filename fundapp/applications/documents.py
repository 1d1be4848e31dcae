"""A member's documents: the file's type read from its first bytes (never from its name), a clean stored name,
the per-member quota, and every reading of a document audited."""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from fundapp.accounts.models import Member
from fundapp.applications.models import Application, ApplicationDocument
from fundapp.applications.services import ApplicationError
from fundapp.audit.services import record_change
from fundapp.extensions import db

# --- documents -----------------------------------------------------------------------------------

#: What a file must start with to be what it claims; the name is never trusted.
SIGNATURES = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}
NAMED_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}
TYPE_NAMES = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}


def sniff(head: bytes) -> str | None:
    return next((kind for magic, kind in SIGNATURES.items() if head.startswith(magic)), None)


def clean_name(name: str, content_type: str) -> str:
    """A display name: no folders, no control characters, the right extension."""
    base = os.path.basename((name or "").replace("\\", "/"))
    base = "".join(ch for ch in unicodedata.normalize("NFKC", base) if ch.isprintable() and ch not in '<>:"|?*')
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", base).strip(" .")[:150] or "document"
    return f"{stem}.{EXTENSIONS[content_type]}"


def documents_dir() -> Path:
    folder = Path(current_app.config["DOCUMENTS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class DocumentQuota:
    count: int
    total_bytes: int
    max_count: int
    max_bytes: int

    @property
    def used_mb(self) -> str:
        return f"{self.total_bytes / (1024 * 1024):.1f}"

    @property
    def max_mb(self) -> int:
        return self.max_bytes // (1024 * 1024)


def document_quota(member_id: int) -> DocumentQuota:
    """What a member's documents take, over all their applications (withdrawn ones too, until purged)."""
    count, total = db.session.execute(
        db.select(db.func.count(ApplicationDocument.id), db.func.coalesce(db.func.sum(ApplicationDocument.size_bytes), 0))
        .join(Application, ApplicationDocument.application_id == Application.id)
        .where(Application.member_id == member_id)).one()
    return DocumentQuota(count, int(total), current_app.config["DOCUMENTS_MAX_PER_MEMBER"],
                         current_app.config["DOCUMENTS_MAX_TOTAL_BYTES"])


def _check_quota(application: Application, checked: list) -> None:
    """Refuse files beyond the member's quota; the member's roster row is locked first, so two uploads at once
    cannot both fit in the last free place."""
    db.session.execute(db.select(Member.id).where(Member.id == application.member_id).with_for_update())
    quota = document_quota(application.member_id)
    adding = sum(len(data) for _name, _kind, data in checked)
    if quota.count + len(checked) > quota.max_count:
        raise ApplicationError(_(
            "You can keep at most %(max)d documents across all your applications (withdrawn ones count until the "
            "fund removes them); you have %(have)d. Add only the ones the trustees need, or ask the fund.",
            max=quota.max_count, have=quota.count), "documents")
    if quota.total_bytes + adding > quota.max_bytes:
        raise ApplicationError(_(
            "Your documents may take at most %(max)d MB in all, across your applications; you use %(used)s MB. "
            "Photos at a lower resolution take less room.", max=quota.max_mb, used=quota.used_mb), "documents")


def add_documents(application: Application, files, *, actor) -> list[ApplicationDocument]:
    """Check every file by its content and size, and the member's quota, then store them all, or none."""
    limit = current_app.config["DOCUMENT_MAX_BYTES"]
    if len(application.documents) + len(files) > current_app.config["DOCUMENTS_PER_APPLICATION"]:
        raise ApplicationError(_("An application can have at most %(n)s documents.",
                                 n=current_app.config["DOCUMENTS_PER_APPLICATION"]), "documents")
    checked = []
    for upload in files:
        data = upload.read(limit + 1)
        raw_name = upload.filename or ""
        shown = clean_name(raw_name, "application/pdf").rsplit(".", 1)[0]
        if "/" in raw_name or "\\" in raw_name or ".." in raw_name:
            raise ApplicationError(_("We cannot take a file whose name has folders or \"..\" in it (%(name)s). "
                                     "Rename it and try again.", name=shown), "documents")
        if not data:
            raise ApplicationError(_("%(name)s is empty.", name=shown), "documents")
        if len(data) > limit:
            raise ApplicationError(_("%(name)s is larger than %(mb)s MB. A photo at a lower resolution works.",
                                     name=shown, mb=limit // (1024 * 1024)), "documents")
        kind = sniff(data[:16])
        if kind is None:
            raise ApplicationError(_("%(name)s is not a PDF, JPEG or PNG file. Take a photo of the paper, or save "
                                     "it as PDF.", name=shown), "documents")
        named = NAMED_TYPES.get(raw_name.rsplit(".", 1)[-1].lower()) if "." in raw_name else None
        if named is not None and named != kind:
            raise ApplicationError(_("%(name)s is named as a %(named)s file but is a %(real)s file. Rename it to "
                                     "end in .%(ext)s and try again.", name=shown, named=TYPE_NAMES[named],
                                     real=TYPE_NAMES[kind], ext=EXTENSIONS[kind]), "documents")
        checked.append((raw_name, kind, data))
    _check_quota(application, checked)
    written, documents = [], []
    try:
        for original, kind, data in checked:
            stored = secrets.token_hex(24)
            path = documents_dir() / stored
            with open(path, "xb") as out:
                out.write(data)
            written.append(path)
            document = ApplicationDocument(application=application, original_name=clean_name(original, kind),
                                           stored_name=stored, content_type=kind, size_bytes=len(data),
                                           sha256=hashlib.sha256(data).hexdigest(), uploaded_by_id=actor.id)
            db.session.add(document)
            documents.append(document)
        db.session.flush()
    except Exception:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    for document in documents:
        record_change("document.upload", "application_document", document.id, actor=actor,
                      fund_id=application.fund_id, after={"application": application.id, "type": document.content_type,
                                                          "bytes": document.size_bytes, "sha256": document.sha256})
    return documents


def open_document(document: ApplicationDocument, *, actor) -> bytes:
    """The document's bytes; every view is audited."""
    record_change("document.view", "application_document", document.id, actor=actor,
                  fund_id=document.application.fund_id, after={"application": document.application_id})
    return (documents_dir() / document.stored_name).read_bytes()
