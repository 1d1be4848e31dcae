"""donations.receipt_held: a receipt production did not mail while the fund's EIN or contact was a placeholder,
mailed by the worker once both are set

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 00:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_held', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_column('receipt_held')
