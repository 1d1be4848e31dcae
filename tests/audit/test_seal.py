"""The audit trail against someone who owns its database (on SQLite and PostgreSQL).

Such a person can recompute every hash (the formula is in the code), but not the seals (an HMAC
under AUDIT_KEY, which the database never holds); and cutting off the newest records leaves a
chain that checks out on its own, which only an anchor taken before shows. The owner's writes go
through ``owner_connection``: on PostgreSQL the superuser with the triggers off.
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest

from fundapp.audit.models import AuditRecord
from fundapp.audit.services import _digest, verify_chain
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import services as ledger
from tests.conftest import owner_connection, sign_in


def post_gifts(fund, count: int, first: int = 0) -> None:
    """``count`` gifts, each writing one audit record."""
    for n in range(first, first + count):
        ledger.post_entry(fund, entry_date=date(2026, 11, 2), memo=f"gift {n}", source_kind="t", source_id=n,
                          postings=[("Assets:Bank", 1_000 + n), ("Income:Donations", -1_000 - n)])
    db.session.commit()


def take_anchor(runner, tmp_path) -> str:
    """Run audit-anchor as cron would; returns the file it wrote."""
    path = tmp_path / "anchor.txt"
    result = runner.invoke(args=["fund", "audit-anchor", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_text().strip() == result.output.strip()
    return str(path)


def rewrite_without_the_key(first_id: int, *, strip_seals: bool = False) -> None:
    """What an owner without AUDIT_KEY can do: change one record, then recompute the hash and the link of it
    and of every record after it, so the hash chain holds again (keeping the old seals, or removing them)."""
    records = db.session.scalars(db.select(AuditRecord).order_by(AuditRecord.id)).all()
    for record in records:
        db.session.expunge(record)  # worked on outside the app's session, as the owner would
    prev = None
    changed = []
    for record in records:
        if record.id == first_id:
            record.after = {**(record.after or {}), "memo": "paid to a friend"}
        if record.id >= first_id:
            record.prev_hash = prev
            record.hash = _digest(record)
            changed.append(record)
        prev = record.hash
    with owner_connection() as owner:
        for record in changed:
            owner.execute(db.update(AuditRecord).where(AuditRecord.id == record.id).values(
                after=record.after, prev_hash=record.prev_hash, hash=record.hash,
                mac=None if strip_seals else record.mac))


def test_each_record_is_sealed_with_the_audit_key(app, fund):
    post_gifts(fund, 3)
    records = db.session.scalars(db.select(AuditRecord).order_by(AuditRecord.id)).all()
    assert len(records) == 3
    for record in records:
        assert record.mac == hmac.new(app.config["AUDIT_KEY"].encode(), record.hash.encode(),
                                      hashlib.sha256).hexdigest()
    assert verify_chain().sealed == 3
    app.config["AUDIT_KEY"] = "another key altogether, not the one that sealed"
    report = verify_chain()
    assert (report.first_broken_id, report.reason) == (records[0].id, "seal")


@pytest.mark.parametrize("strip_seals", [False, True], ids=["seals-kept", "seals-removed"])
def test_a_rewritten_trail_with_every_hash_recomputed_is_caught_by_the_seals_and_the_anchor(
        runner, fund, tmp_path, strip_seals):
    post_gifts(fund, 30)
    anchor = take_anchor(runner, tmp_path)
    post_gifts(fund, 2, first=30)
    ids = db.session.scalars(db.select(AuditRecord.id).order_by(AuditRecord.id)).all()
    target = ids[9]
    rewrite_without_the_key(target, strip_seals=strip_seals)

    # the hashes and links hold again: only the seal of the first rewritten record gives it away
    report = verify_chain()
    assert (report.first_broken_id, report.reason, report.checked) == (target, "seal", 9)
    plain = runner.invoke(args=["fund", "verify-audit"])
    assert plain.exit_code == 1 and f"broken at record {target} " in plain.output
    assert "seal does not match" in plain.output
    anchored = runner.invoke(args=["fund", "verify-audit", "--anchor", anchor])
    assert anchored.exit_code == 1 and f"broken at record {target} " in anchored.output


def test_records_older_than_the_seal_pass_only_before_the_first_sealed_one(fund):
    post_gifts(fund, 6)
    ids = db.session.scalars(db.select(AuditRecord.id).order_by(AuditRecord.id)).all()
    with owner_connection() as owner:  # as if the first three were written before migration 0015
        owner.execute(db.update(AuditRecord).where(AuditRecord.id.in_(ids[:3])).values(mac=None))
    report = verify_chain()
    assert (report.first_broken_id, report.checked, report.sealed) == (None, 6, 3)
    with owner_connection() as owner:  # a later record without its seal
        owner.execute(db.update(AuditRecord).where(AuditRecord.id == ids[4]).values(mac=None))
    report = verify_chain()
    assert (report.first_broken_id, report.reason) == (ids[4], "seal")


def test_cutting_off_the_newest_records_is_caught_by_an_anchor_taken_before(runner, fund, tmp_path):
    post_gifts(fund, 30)
    anchor = take_anchor(runner, tmp_path)
    line = open(anchor).read().strip()
    post_gifts(fund, 2, first=30)
    held = runner.invoke(args=["fund", "verify-audit", "--anchor", anchor])
    assert held.exit_code == 0, held.output
    assert "Audit trail intact: 33 records (33 sealed), holding the anchor" in held.output
    assert "(record 30, 30 records)" in held.output
    assert runner.invoke(args=["fund", "verify-audit", "--anchor", line]).exit_code == 0  # the line itself

    newest = db.session.scalars(db.select(AuditRecord.id).order_by(AuditRecord.id.desc()).limit(25)).all()
    with owner_connection() as owner:
        owner.execute(db.delete(AuditRecord).where(AuditRecord.id.in_(newest)))
    alone = runner.invoke(args=["fund", "verify-audit"])
    assert alone.exit_code == 0 and "intact: 8 records" in alone.output  # what is left is a good chain
    cut = runner.invoke(args=["fund", "verify-audit", "--anchor", anchor])
    assert cut.exit_code == 1
    assert "does not hold the anchor: record 30, the anchor's head, is gone" in cut.output
    assert "holds 8 records" in cut.output and "saw 30" in cut.output


def test_an_altered_or_foreign_anchor_is_refused(app, runner, fund, tmp_path):
    post_gifts(fund, 3)
    line = open(take_anchor(runner, tmp_path)).read().strip()
    assert runner.invoke(args=["fund", "verify-audit", "--anchor", line]).exit_code == 0
    shortened = line.replace("length=3 ", "length=2 ")
    altered = runner.invoke(args=["fund", "verify-audit", "--anchor", shortened])
    assert altered.exit_code == 1 and "the anchor's own seal is wrong" in altered.output
    garbage = runner.invoke(args=["fund", "verify-audit", "--anchor", str(tmp_path / "no-such-file")])
    assert garbage.exit_code == 1 and "neither an anchor line nor a file" in garbage.output
    (tmp_path / "other.txt").write_text("hello\n")
    other = runner.invoke(args=["fund", "verify-audit", "--anchor", str(tmp_path / "other.txt")])
    assert other.exit_code == 1 and "not an audit anchor" in other.output
    app.config["AUDIT_KEY"] = "the key of some other installation"
    foreign = runner.invoke(args=["fund", "verify-audit", "--anchor", line])
    assert foreign.exit_code == 1 and "the anchor's own seal is wrong" in foreign.output


def test_an_anchor_is_mailed_to_every_active_trustee_and_treasurer_and_shown_on_the_dashboard(
        client, runner, smtp, create_user, fund):
    create_user("tom@example.org", "trustee", name="Tom")
    create_user("tina@example.org", "trustee", name="Tina", language="es")
    create_user("tess@example.org", "treasurer", name="Tess")
    create_user("ana@example.org", "applicant")
    gone = create_user("old@example.org", "trustee")
    gone.active = False
    db.session.commit()
    sign_in(client, "tom@example.org")
    assert "Last anchored outside the database: never." in client.get("/review/dashboard").get_data(as_text=True)
    head = db.session.execute(db.select(AuditRecord.id, AuditRecord.hash).order_by(AuditRecord.id.desc())).first()
    length = db.session.scalar(db.select(db.func.count(AuditRecord.id)))

    result = runner.invoke(args=["fund", "audit-anchor"])
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith(f"fundapp-audit-anchor v1 length={length} id={head.id} head={head.hash} at=")
    assert len(result.output.strip().splitlines()) == 1
    record = db.session.scalar(db.select(AuditRecord).filter_by(action="audit.anchor"))
    assert record.id > head.id and record.after["head"] == head.hash and record.after["length"] == length
    mails = {m["To"]: m for m in smtp.messages}
    assert set(mails) == {"tom@example.org", "tina@example.org", "tess@example.org"}
    assert all(line in m.get_body(("plain",)).get_content() for m in mails.values())
    assert mails["tom@example.org"]["Subject"].startswith("Audit trail anchor of ")
    assert mails["tina@example.org"]["Subject"].startswith("Ancla del registro de auditoría")
    page = client.get("/review/dashboard").get_data(as_text=True)
    # shown on the fund's clock (Los Angeles: PST or PDT), not UTC
    assert f"Last anchored outside the database on {clock.stamp(fund, record.created_at)}." in page
    assert clock.stamp(fund, record.created_at).endswith(("PST", "PDT"))
