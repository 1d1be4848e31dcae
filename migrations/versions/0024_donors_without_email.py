"""donors: a gift whose payer left no email (cash, an outside charge) gets a donor of its own. The unique
(fund, email) constraint made every such gift share one donor row, whose name the latest gift overwrote: an
earlier cash donor's receipt and the gifts list then showed someone else's name, and the large-gift list added
strangers' gifts together. Emails stay unique per fund where there is one (a partial unique index).

Rows that already share the "" donor keep it (the names it held before are not kept anywhere to split it by).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 06:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

HAS_EMAIL = sa.text("email <> ''")


def upgrade():
    with op.batch_alter_table('donors', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_donors_fund_id_email'), type_='unique')
    op.create_index('uq_donors_fund_id_email', 'donors', ['fund_id', 'email'], unique=True,
                    postgresql_where=HAS_EMAIL, sqlite_where=HAS_EMAIL)


def downgrade():
    # Donors without an email become one again: their gifts move to the oldest, the others are removed.
    op.execute("UPDATE donations SET donor_id = (SELECT MIN(d.id) FROM donors d WHERE d.email = '' AND "
               "d.fund_id = donations.fund_id) WHERE donor_id IN (SELECT id FROM donors WHERE email = '')")
    op.execute("DELETE FROM donors WHERE email = '' AND id NOT IN (SELECT MIN(id) FROM donors WHERE email = '' "
               "GROUP BY fund_id)")
    op.drop_index('uq_donors_fund_id_email', table_name='donors')
    with op.batch_alter_table('donors', schema=None) as batch_op:
        batch_op.create_unique_constraint(op.f('uq_donors_fund_id_email'), ['fund_id', 'email'])
