"""accounts: server-side sessions of users and of donors signed in by link (user_sessions: the hash of each session id, its user, when it began and was
last used, the browser, when and why it ended), so sign-out, a new password, a role change and idling end a
session for good; health: the worker's heartbeats (worker_heartbeats) that /healthz reads

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 23:30:00

"""
import sqlalchemy as sa
from alembic import op

from fundapp.extensions import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('donor_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('ip', sa.String(length=45), nullable=False),
        sa.Column('user_agent', sa.String(length=120), nullable=False),
        sa.Column('revoked_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('revoked_reason', sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['donor_id'], ['donors.id'], name=op.f('fk_user_sessions_donor_id_donors'),
                                ondelete='CASCADE'),
        sa.CheckConstraint('(user_id IS NULL) <> (donor_id IS NULL)', name=op.f('ck_user_sessions_one_owner')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash')),
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_user_sessions_donor_id'), ['donor_id'], unique=False)
    op.create_table(
        'worker_heartbeats',
        sa.Column('worker', sa.String(length=200), nullable=False),
        sa.Column('beat_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('worker', name=op.f('pk_worker_heartbeats')),
    )


def downgrade():
    op.drop_table('worker_heartbeats')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_donor_id'))
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
    op.drop_table('user_sessions')
