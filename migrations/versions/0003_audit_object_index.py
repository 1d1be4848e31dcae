"""audit: index records by object, for a case's or an entry's own trail

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:40:00

"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.create_index("ix_audit_records_object", ["object_type", "object_id"], unique=False)


def downgrade():
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_records_object")
