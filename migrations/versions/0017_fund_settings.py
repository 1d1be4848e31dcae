"""funds: the settings the treasurer's fund page edits (postal address, time zone, fiscal year start, receipt
signatory, the "other" legal form's wording); existing funds get empty text, America/Los_Angeles and January

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 22:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('funds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_form_wording', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('postal_address', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), server_default='America/Los_Angeles',
                                      nullable=False))
        batch_op.add_column(sa.Column('fiscal_year_start_month', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('signatory_name', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('signatory_title', sa.String(length=200), server_default='', nullable=False))
    # SQLite can add a CHECK only by copying the table, and with foreign keys on it cannot drop ``funds``
    # while every other table refers to it: there the service's check (validate_settings) stands alone.
    if op.get_bind().dialect.name != 'sqlite':
        op.create_check_constraint(op.f('ck_funds_fiscal_year_start_month_valid'), 'funds',
                                   'fiscal_year_start_month BETWEEN 1 AND 12')


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('ck_funds_fiscal_year_start_month_valid'), 'funds', type_='check')
    with op.batch_alter_table('funds', schema=None) as batch_op:
        batch_op.drop_column('signatory_title')
        batch_op.drop_column('signatory_name')
        batch_op.drop_column('fiscal_year_start_month')
        batch_op.drop_column('time_zone')
        batch_op.drop_column('postal_address')
        batch_op.drop_column('legal_form_wording')
