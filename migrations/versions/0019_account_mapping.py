"""ledger: each fund's mapping of its accounts to the union's own chart in QuickBooks Online and Xero (for the
journal import files); donors: the postal address Schedule B lists for gifts of $5,000 or more

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 23:30:00

"""
import sqlalchemy as sa
from alembic import op

import fundapp.extensions

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ledger_account_mappings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('fund_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('quickbooks_account', sa.String(length=100), server_default='', nullable=False),
        sa.Column('xero_account_code', sa.String(length=10), server_default='', nullable=False),
        sa.Column('updated_at', fundapp.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'],
                                name=op.f('fk_ledger_account_mappings_account_id_ledger_accounts')),
        sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_ledger_account_mappings_fund_id_funds')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_account_mappings')),
        sa.UniqueConstraint('fund_id', 'account_id', name=op.f('uq_ledger_account_mappings_fund_id_account_id')),
    )
    with op.batch_alter_table('donors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('postal_address', sa.Text(), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('donors', schema=None) as batch_op:
        batch_op.drop_column('postal_address')
    op.drop_table('ledger_account_mappings')
