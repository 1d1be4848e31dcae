"""audit: sealed records (an HMAC under AUDIT_KEY), and the audit trail guarded like the books

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 20:00:00

"""
import sqlalchemy as sa
from alembic import op

# The database's own guard of the audit trail on PostgreSQL: a record cannot be changed, deleted or
# truncated away, and the books cannot be truncated either (0002 already refuses UPDATE and DELETE of
# them). Only a superuser who turns triggers off gets past this; the records' seal (``mac``, an HMAC
# under a key the database never holds) and the anchors kept outside it catch what such a person does.
PG_AUDIT_GUARDS = [
    """
    CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit trail is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    "CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
    "CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
    "CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
]
PG_AUDIT_GUARDS_DROP = [
    "DROP TRIGGER IF EXISTS postings_no_truncate ON postings",
    "DROP TRIGGER IF EXISTS journal_entries_no_truncate ON journal_entries",
    "DROP TRIGGER IF EXISTS audit_records_no_truncate ON audit_records",
    "DROP TRIGGER IF EXISTS audit_records_append_only ON audit_records",
    "DROP FUNCTION IF EXISTS audit_refuse_change()",
]

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    # Records written before this have no seal (NULL); verify_chain accepts that only before the first sealed one.
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_AUDIT_GUARDS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_AUDIT_GUARDS_DROP:
            op.execute(statement)
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_column('mac')
