"""members: the last 4 digits of the phone (an optional roster column) that proving membership then needs;
membership_claims: a proof of a member already linked, for the treasurer to decide; pending_registrations:
sign-ups waiting for the mailed link; mail_requests: reset and donor-link requests the worker answers

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 23:30:00

"""
import sqlalchemy as sa
from alembic import op

import fundapp.extensions

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_last4', sa.String(length=4), nullable=True))
    op.create_table(
        'membership_claims',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('fund_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('claimant_id', sa.Integer(), nullable=False),
        sa.Column('holder_id', sa.Integer(), nullable=True),
        sa.Column('created_at', fundapp.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.Column('resolved_at', fundapp.extensions.UTCDateTime(timezone=True), nullable=True),
        sa.Column('resolved_by_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(['claimant_id'], ['users.id'], name=op.f('fk_membership_claims_claimant_id_users')),
        sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_membership_claims_fund_id_funds')),
        sa.ForeignKeyConstraint(['holder_id'], ['users.id'], name=op.f('fk_membership_claims_holder_id_users')),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_membership_claims_member_id_members')),
        sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'],
                                name=op.f('fk_membership_claims_resolved_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_claims')),
    )
    with op.batch_alter_table('membership_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_claims_fund_id'), ['fund_id'], unique=False)
    op.create_table(
        'pending_registrations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('fund_id', sa.Integer(), nullable=False),
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('language', sa.String(length=2), nullable=False),
        sa.Column('created_at', fundapp.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_pending_registrations_fund_id_funds')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_registrations')),
        sa.UniqueConstraint('token_sha256', name=op.f('uq_pending_registrations_token_sha256')),
    )
    with op.batch_alter_table('pending_registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_registrations_created_at'), ['created_at'], unique=False)
    op.create_table(
        'mail_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('fund_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('language', sa.String(length=2), nullable=False),
        sa.Column('created_at', fundapp.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_mail_requests_fund_id_funds')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_requests')),
    )


def downgrade():
    op.drop_table('mail_requests')
    with op.batch_alter_table('pending_registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_registrations_created_at'))
    op.drop_table('pending_registrations')
    with op.batch_alter_table('membership_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_claims_fund_id'))
    op.drop_table('membership_claims')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('phone_last4')
