"""donations: what a card dispute lost took back of a gift (disputed_cents), for its corrected receipt

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 21:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disputed_cents', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_donations_disputed_not_negative'), 'disputed_cents >= 0')


def downgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_donations_disputed_not_negative'), type_='check')
        batch_op.drop_column('disputed_cents')
