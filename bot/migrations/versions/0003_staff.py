"""staff tables: accounts, sessions, login attempts, case notes

Revision ID: 0003_staff
Revises: 0002_booking
"""

import sqlalchemy as sa
from alembic import op

import bot.models.base

revision = "0003_staff"
down_revision = "0002_booking"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = bot.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_user",
        sa.Column("id", _ID, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_user")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_user_username")),
    )
    op.create_table(
        "staff_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_user.id"], name=op.f("fk_staff_session_user_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_session")),
    )
    op.create_index(op.f("ix_staff_session_user_id"), "staff_session", ["user_id"])
    op.create_table(
        "login_attempt",
        sa.Column("id", _ID, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("username_key", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    op.create_index("ix_login_attempt_name_at", "login_attempt", ["username_key", "at"])
    op.create_index("ix_login_attempt_ip_at", "login_attempt", ["ip", "at"])
    op.create_table(
        "case_note",
        sa.Column("id", _ID, nullable=False),
        sa.Column("handoff_id", _ID, nullable=False),
        sa.Column("staff_user_id", _ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoff.id"], name=op.f("fk_case_note_handoff_id_handoff")
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_user.id"],
            name=op.f("fk_case_note_staff_user_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_note")),
    )
    op.create_index(op.f("ix_case_note_handoff_id"), "case_note", ["handoff_id"])
    op.create_table(
        "staff_reply",
        sa.Column("id", _ID, nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("handoff_id", _ID, nullable=False),
        sa.Column("message_id", _ID, nullable=False),
        sa.Column("outbox_id", _ID, nullable=False),
        sa.Column("staff_user_id", _ID, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoff.id"], name=op.f("fk_staff_reply_handoff_id_handoff")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["message.id"], name=op.f("fk_staff_reply_message_id_message")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_staff_reply_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_user.id"],
            name=op.f("fk_staff_reply_staff_user_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_reply")),
        sa.UniqueConstraint("request_key", name=op.f("uq_staff_reply_request_key")),
    )
    op.create_index(op.f("ix_staff_reply_handoff_id"), "staff_reply", ["handoff_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_reply_handoff_id"), table_name="staff_reply")
    op.drop_table("staff_reply")
    op.drop_index(op.f("ix_case_note_handoff_id"), table_name="case_note")
    op.drop_table("case_note")
    op.drop_index("ix_login_attempt_ip_at", table_name="login_attempt")
    op.drop_index("ix_login_attempt_name_at", table_name="login_attempt")
    op.drop_table("login_attempt")
    op.drop_index(op.f("ix_staff_session_user_id"), table_name="staff_session")
    op.drop_table("staff_session")
    op.drop_table("staff_user")
