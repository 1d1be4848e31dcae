"""funds.settings_version: raised with every change of the fund's row, so a process can keep the fund it read
until it changes (one small read per request instead of the whole row and its lookups);
outbox_messages.receipt_donation_id: a receipt mail queued as its gift is booked names the gift, and the sender
renders the PDF after the booking has committed (rendering it inside the booking held the books' locks).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 10:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('funds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settings_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_donation_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_messages_receipt_donation_id'), ['receipt_donation_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_messages_receipt_donation_id_donations'), 'donations',
                                    ['receipt_donation_id'], ['id'])


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_messages_receipt_donation_id_donations'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_messages_receipt_donation_id'))
        batch_op.drop_column('receipt_donation_id')
    with op.batch_alter_table('funds', schema=None) as batch_op:
        batch_op.drop_column('settings_version')
