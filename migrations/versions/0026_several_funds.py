"""Several funds on one installation: users.is_operator (the host union's administrators, who open funds and see
what belongs to no fund), funds.status (open, applications paused, closed to gifts) and
funds.successor_id (where a closed fund's donate page sends givers) and outbox_messages.fund_id
(the fund a message is about: each treasurer sees their own fund's mail, and the mail names its fund);
stripe_events.summary (what a payment that named no fund was, for the host who assigns it); fund_transfers (money
one fund gives another, approved by a trustee of each).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 05:20:00

"""
import sqlalchemy as sa
from alembic import op

from fundapp.extensions import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'fund_transfers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('from_fund_id', sa.Integer(), nullable=False),
        sa.Column('to_fund_id', sa.Integer(), nullable=False),
        sa.Column('amount_cents', sa.BigInteger(), nullable=False),
        sa.Column('memo', sa.String(length=300), nullable=False),
        sa.Column('proposed_by_id', sa.Integer(), nullable=False),
        sa.Column('proposed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('from_approved_by_id', sa.Integer(), nullable=True),
        sa.Column('from_approved_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('to_approved_by_id', sa.Integer(), nullable=True),
        sa.Column('to_approved_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('booked_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('withdrawn_at', UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint('amount_cents > 0', name=op.f('ck_fund_transfers_amount_positive')),
        sa.CheckConstraint('from_fund_id <> to_fund_id', name=op.f('ck_fund_transfers_two_funds')),
        sa.CheckConstraint('booked_at IS NULL OR (from_approved_at IS NOT NULL AND to_approved_at IS NOT NULL)',
                           name=op.f('ck_fund_transfers_booked_when_approved')),
        sa.ForeignKeyConstraint(['from_fund_id'], ['funds.id'], name=op.f('fk_fund_transfers_from_fund_id_funds')),
        sa.ForeignKeyConstraint(['to_fund_id'], ['funds.id'], name=op.f('fk_fund_transfers_to_fund_id_funds')),
        sa.ForeignKeyConstraint(['proposed_by_id'], ['users.id'], name=op.f('fk_fund_transfers_proposed_by_id_users')),
        sa.ForeignKeyConstraint(['from_approved_by_id'], ['users.id'],
                                name=op.f('fk_fund_transfers_from_approved_by_id_users')),
        sa.ForeignKeyConstraint(['to_approved_by_id'], ['users.id'],
                                name=op.f('fk_fund_transfers_to_approved_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_transfers')),
    )
    with op.batch_alter_table('fund_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_transfers_from_fund_id'), ['from_fund_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_transfers_to_fund_id'), ['to_fund_id'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_operator', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('funds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), server_default='open', nullable=False))
        batch_op.create_check_constraint('status_known', "status IN ('open', 'paused', 'closed')")
        batch_op.add_column(sa.Column('successor_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_funds_successor_id_funds'), 'funds', ['successor_id'], ['id'])
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('summary', sa.String(length=300), nullable=True))
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fund_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_messages_fund_id'), ['fund_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_messages_fund_id_funds'), 'funds', ['fund_id'], ['id'])


def downgrade():
    op.drop_table('fund_transfers')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_messages_fund_id_funds'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_messages_fund_id'))
        batch_op.drop_column('fund_id')
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_column('summary')
    with op.batch_alter_table('funds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_funds_successor_id_funds'), type_='foreignkey')
        batch_op.drop_column('successor_id')
        batch_op.drop_constraint('status_known', type_='check')
        batch_op.drop_column('status')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_operator')
