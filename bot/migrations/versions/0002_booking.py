"""booking tables: slots, bookings, reminders, closure days; the database refuses overbooking

Revision ID: 0002_booking
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bot.models.base

revision = "0002_booking"
down_revision = "0001_core"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ACTIVE = sa.text("status = 'active'")


def _utc() -> bot.models.base.UTCDateTime:
    return bot.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slot",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("starts_at", _utc(), nullable=False),
        sa.Column("ends_at", _utc(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked_count", sa.Integer(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.CheckConstraint(
            "booked_count <= capacity AND booked_count >= 0",
            name=op.f("ck_slot_booked_within_capacity"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot")),
        sa.UniqueConstraint("service_id", "starts_at", name="uq_slot_service_id_starts_at"),
    )
    op.create_index(op.f("ix_slot_starts_at"), "slot", ["starts_at"], unique=False)

    op.create_table(
        "booking",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("reference", sa.String(length=8), nullable=False),
        sa.Column("slot_id", BIG_ID, nullable=False),
        sa.Column("resident_id", BIG_ID, nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("triage_summary", JSON, nullable=True),
        sa.Column("handoff_id", BIG_ID, nullable=True),
        sa.Column("request_key", sa.String(length=96), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("cancelled_at", _utc(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["slot_id"], ["slot.id"], name=op.f("fk_booking_slot_id_slot")),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_booking_resident_id_resident")
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoff.id"], name=op.f("fk_booking_handoff_id_handoff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking")),
        sa.UniqueConstraint("reference", name=op.f("uq_booking_reference")),
        sa.UniqueConstraint("request_key", name=op.f("uq_booking_request_key")),
    )
    op.create_index(op.f("ix_booking_resident_id"), "booking", ["resident_id"], unique=False)
    op.create_index("ix_booking_slot_status", "booking", ["slot_id", "status"], unique=False)
    # One active booking per resident per slot; cancelled ones may repeat.
    op.create_index(
        "uq_booking_active_slot_resident",
        "booking",
        ["slot_id", "resident_id"],
        unique=True,
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )

    op.create_table(
        "reminder",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("booking_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_at", _utc(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lease_until", _utc(), nullable=True),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["booking.id"], name=op.f("fk_reminder_booking_id_booking")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder")),
        sa.UniqueConstraint("booking_id", "kind", name="uq_reminder_booking_id_kind"),
    )
    op.create_index("ix_reminder_due", "reminder", ["status", "due_at"], unique=False)

    op.create_table(
        "booking_closure",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_by", BIG_ID, nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_closure")),
        sa.UniqueConstraint("day", name=op.f("uq_booking_closure_day")),
    )
    _refuse_uncounted_bookings()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("booking_counted_insert", "booking_counted_update", "slot_counts_bookings"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    else:
        op.execute("DROP TRIGGER IF EXISTS booking_counted ON booking")
        op.execute("DROP TRIGGER IF EXISTS slot_counts_bookings ON slot")
        op.execute("DROP FUNCTION IF EXISTS booking_counted()")
        op.execute("DROP FUNCTION IF EXISTS slot_counts_bookings()")
    op.drop_table("booking_closure")
    op.drop_index("ix_reminder_due", table_name="reminder")
    op.drop_table("reminder")
    op.drop_index("uq_booking_active_slot_resident", table_name="booking")
    op.drop_index("ix_booking_slot_status", table_name="booking")
    op.drop_index(op.f("ix_booking_resident_id"), table_name="booking")
    op.drop_table("booking")
    op.drop_index(op.f("ix_slot_starts_at"), table_name="slot")
    op.drop_table("slot")


#: SQLite trigger bodies (fixed text). Active bookings counted against the slot's count.
_SQLITE_UNCOUNTED_BOOKING = (
    "BEGIN SELECT RAISE(ABORT, 'booking not counted on its slot') WHERE "
    "(SELECT count(*) FROM booking WHERE slot_id = NEW.slot_id AND status = 'active') > "
    "(SELECT booked_count FROM slot WHERE id = NEW.slot_id); END"
)
_SQLITE_COUNT_BELOW_BOOKINGS = (
    "BEGIN SELECT RAISE(ABORT, 'slot count below its active bookings') WHERE "
    "(SELECT count(*) FROM booking WHERE slot_id = NEW.id AND status = 'active') > "
    "NEW.booked_count; END"
)


def _refuse_uncounted_bookings() -> None:
    """Active bookings on a slot may never outnumber its booked_count (≤ capacity by CHECK).

    So a booking inserted without the compare-and-swap, or a count lowered under the
    bookings it holds, is refused by the database whatever code wrote it.
    """
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER booking_counted_insert AFTER INSERT ON booking "
            "WHEN NEW.status = 'active' " + _SQLITE_UNCOUNTED_BOOKING
        )
        op.execute(
            "CREATE TRIGGER booking_counted_update AFTER UPDATE OF status, slot_id ON booking "
            "WHEN NEW.status = 'active' " + _SQLITE_UNCOUNTED_BOOKING
        )
        op.execute(
            "CREATE TRIGGER slot_counts_bookings AFTER UPDATE OF booked_count ON slot "
            "WHEN NEW.booked_count < OLD.booked_count " + _SQLITE_COUNT_BELOW_BOOKINGS
        )
        return
    # PostgreSQL: lock the slot row first so concurrent raw inserts are counted one by one
    # (each statement of a volatile function sees a fresh snapshot under READ COMMITTED).
    op.execute(
        """
        CREATE FUNCTION booking_counted() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE counted integer; active integer;
        BEGIN
          SELECT booked_count INTO counted FROM slot WHERE id = NEW.slot_id FOR UPDATE;
          SELECT count(*) INTO active FROM booking
            WHERE slot_id = NEW.slot_id AND status = 'active';
          IF active > counted THEN
            RAISE EXCEPTION 'booking not counted on its slot' USING ERRCODE = 'check_violation';
          END IF;
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER booking_counted AFTER INSERT OR UPDATE OF status, slot_id ON booking "
        "FOR EACH ROW WHEN (NEW.status = 'active') EXECUTE FUNCTION booking_counted()"
    )
    op.execute(
        """
        CREATE FUNCTION slot_counts_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE active integer;
        BEGIN
          SELECT count(*) INTO active FROM booking
            WHERE slot_id = NEW.id AND status = 'active';
          IF active > NEW.booked_count THEN
            RAISE EXCEPTION 'slot count below its active bookings'
              USING ERRCODE = 'check_violation';
          END IF;
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER slot_counts_bookings AFTER UPDATE OF booked_count ON slot "
        "FOR EACH ROW WHEN (NEW.booked_count < OLD.booked_count) "
        "EXECUTE FUNCTION slot_counts_bookings()"
    )
