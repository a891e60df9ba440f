"""The handoff queue and the case view, read side, with the rights and consent rules.

Rights (E1): a `staff` member sees unassigned cases and the cases assigned to them;
supervisors and admins see every case. A case outside your rights does not exist for you:
404 by id, absent from lists, search and export.

Consent (E4, DESIGN principle 3): without the resident's consent on record (the handoff's
`consented` AND the resident's current consent), staff see only that someone is waiting,
the urgency, the status and the waiting time. With consent they see the triage summary,
the conversation, contact details and bookings. After withdrawal it is hidden again.

Crisis policy: for a crisis case without consent, staff also see the triage summary (which
windows, the matched words and crisis signals) so they can act on a risk to life
(個人情報保護法 27条1項2号: 人の生命・身体の保護のために必要で本人の同意を得ることが困難な
とき) — but not the conversation, contact details or bookings. The page says which basis
applies, and every view is audited with that basis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from bot.models.booking import Booking, Slot
from bot.models.core import (
    HANDOFF_STATUSES,
    OPEN_HANDOFF_STATUSES,
    AuditLog,
    Handoff,
    Message,
    Outbox,
    Resident,
)
from bot.models.staff import CaseNote, StaffReply, StaffUser
from knowledge.calendar import JST
from triage.analysis import REPORTERS, URGENCIES

SEARCH_MAX_CHARS = 10_000
PAGE_SIZE = 25

URGENCY_RANK = case((Handoff.urgency == "crisis", 0), (Handoff.urgency == "concern", 1), else_=2)
#: The only sort orders (a tampered value falls back to the default).
SORTS: dict[str, tuple[Any, ...]] = {
    "priority": (URGENCY_RANK, Handoff.created_at.asc(), Handoff.id.asc()),
    "oldest": (Handoff.created_at.asc(), Handoff.id.asc()),
    "newest": (Handoff.created_at.desc(), Handoff.id.desc()),
    "updated": (Handoff.updated_at.desc(), Handoff.id.desc()),
}


@dataclass(frozen=True)
class Viewer:
    user_id: int
    role: str

    @property
    def sees_all(self) -> bool:
        return self.role in ("supervisor", "admin")


@dataclass
class QueueFilters:
    status: str = "open"
    window: str = ""
    urgency: str = ""
    reporter: str = ""
    assignee: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    sort: str = "priority"
    page: int = 1

    @classmethod
    def parse(cls, params: dict[str, str], window_ids: tuple[str, ...]) -> QueueFilters:
        """Anything not on an allow-list is ignored (never an error, never into SQL)."""

        def pick(name: str, allowed: tuple[str, ...]) -> str:
            value = params.get(name, "")
            return value if value in allowed else ""

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(params.get(name, "")[:10])
            except ValueError:
                return None

        assignee = params.get("assignee", "")
        if not (assignee in ("me", "none") or (assignee.isdigit() and len(assignee) < 12)):
            assignee = ""
        try:
            page = max(1, min(int(params.get("page", "1")), 100_000))
        except ValueError:
            page = 1
        status = params.get("status", "open")
        return cls(
            status=status if status in (*HANDOFF_STATUSES, "open", "all") else "open",
            window=pick("window", window_ids),
            urgency=pick("urgency", URGENCIES),
            reporter=pick("reporter", REPORTERS),
            assignee=assignee,
            date_from=day("from"),
            date_to=day("to"),
            q=params.get("q", "")[:SEARCH_MAX_CHARS].replace("\x00", ""),
            sort=params.get("sort", "") if params.get("sort", "") in SORTS else "priority",
            page=page,
        )

    def query_string(self, **override: Any) -> dict[str, str]:
        values = {
            "status": self.status,
            "window": self.window,
            "urgency": self.urgency,
            "reporter": self.reporter,
            "assignee": self.assignee,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "q": self.q,
            "sort": self.sort,
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in override.items()})
        return {k: v for k, v in values.items() if v}


def rights_clause(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.sees_all:
        return true()
    return or_(Handoff.assigned_to.is_(None), Handoff.assigned_to == viewer.user_id)


def consent_clause() -> ColumnElement[bool]:
    return and_(Handoff.consented.is_(True), Resident.consent_given_at.is_not(None))


def summary_clause() -> ColumnElement[bool]:
    return or_(consent_clause(), Handoff.urgency == "crisis")


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` literally (\\ % _ escaped; ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=JST)


@dataclass
class QueueRow:
    id: int
    status: str
    urgency: str
    created_at: datetime
    updated_at: datetime
    assigned_to: int | None
    assignee: str
    #: consent | crisis_policy | none
    basis: str
    windows: list[str]
    reporter: str
    snippet: str | None
    connected_windows: list[str]
    #: The resident wrote after the last staff reply (while staff work the case).
    unread: bool = False


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    crisis_waiting: int
    newest_crisis_id: int | None = None


def _filtered(viewer: Viewer, f: QueueFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [rights_clause(viewer)]
    if f.status == "open":
        where.append(Handoff.status.in_(OPEN_HANDOFF_STATUSES))
    elif f.status != "all":
        where.append(Handoff.status == f.status)
    if f.urgency:
        where.append(Handoff.urgency == f.urgency)
    # Window and reporter come from the content: filter only where the summary is visible.
    if f.window:
        where.append(summary_clause())
        where.append(Handoff.windows.cast(String).like(f'%"{f.window}"%'))
    if f.reporter:
        where.append(summary_clause())
        where.append(Handoff.reporter == f.reporter)
    if f.assignee == "me":
        where.append(Handoff.assigned_to == viewer.user_id)
    elif f.assignee == "none":
        where.append(Handoff.assigned_to.is_(None))
    elif f.assignee:
        where.append(Handoff.assigned_to == int(f.assignee))
    if f.date_from:
        where.append(Handoff.created_at >= _day_start(f.date_from))
    if f.date_to:
        where.append(Handoff.created_at < _day_start(f.date_to + timedelta(days=1)))
    if f.q.strip():
        where.append(_search_clause(f.q.strip()))
    return where


def _search_clause(q: str) -> ColumnElement[bool]:
    """Literal, case-insensitive match on what the viewer may read: the conversation of
    consented cases and the internal notes; `#12` or `12` also finds case 12."""
    pattern = like_pattern(q)
    in_messages = exists().where(
        Message.resident_id == Handoff.resident_id,
        Message.text.ilike(pattern, escape="\\"),
    )
    in_notes = exists().where(
        CaseNote.handoff_id == Handoff.id, CaseNote.text.ilike(pattern, escape="\\")
    )
    clauses = [and_(consent_clause(), in_messages), in_notes]
    digits = q.lstrip("#")
    if digits.isdigit() and len(digits) < 12:
        clauses.append(Handoff.id == int(digits))
    return or_(*clauses)


def basis_for(handoff: Handoff, resident: Resident | None) -> str:
    if handoff.consented and resident is not None and resident.consent_given_at is not None:
        return "consent"
    if handoff.urgency == "crisis":
        return "crisis_policy"
    return "none"


def queue(
    session: Session, viewer: Viewer, f: QueueFilters, page_size: int = PAGE_SIZE
) -> QueuePage:
    where = _filtered(viewer, f)
    base = select(Handoff, Resident).join(Resident, Resident.id == Handoff.resident_id)
    total = int(
        session.scalar(
            select(func.count())
            .select_from(Handoff)
            .join(Resident, Resident.id == Handoff.resident_id)
            .where(*where)
        )
        or 0
    )
    pages = max(1, -(-total // page_size))
    page = min(f.page, pages)
    result = session.execute(
        base.where(*where).order_by(*SORTS[f.sort]).offset((page - 1) * page_size).limit(page_size)
    ).all()
    names = _names(session)
    rows = [_row(session, handoff, resident, names) for handoff, resident in result]
    crisis = session.execute(
        select(func.count(), func.max(Handoff.id)).where(
            rights_clause(viewer),
            Handoff.urgency == "crisis",
            Handoff.status == "new",
            Handoff.assigned_to.is_(None),
        )
    ).one()
    return QueuePage(
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        crisis_waiting=int(crisis[0] or 0),
        newest_crisis_id=crisis[1],
    )


def _names(session: Session) -> dict[int, str]:
    rows = session.execute(select(StaffUser.id, StaffUser.username, StaffUser.display_name))
    return {uid: (display or username) for uid, username, display in rows}


def _latest_text(session: Session, resident_id: int) -> str | None:
    return session.scalar(
        select(Message.text)
        .where(
            Message.resident_id == resident_id,
            Message.direction == "in",
            Message.text.is_not(None),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )


def _has_unread(session: Session, handoff: Handoff) -> bool:
    """A resident line newer than the last staff line, once staff have answered."""
    if handoff.first_response_at is None:
        return False
    last_in, last_staff = session.execute(
        select(
            func.max(case((Message.direction == "in", Message.created_at))),
            func.max(case((Message.direction == "staff", Message.created_at))),
        ).where(
            Message.resident_id == handoff.resident_id, Message.created_at >= handoff.created_at
        )
    ).one()
    return last_in is not None and (last_staff is None or last_in > last_staff)


def _row(session: Session, handoff: Handoff, resident: Resident, names: dict[int, str]) -> QueueRow:
    basis = basis_for(handoff, resident)
    summary_ok = basis in ("consent", "crisis_policy")
    snippet = _latest_text(session, resident.id) if basis == "consent" else None
    return QueueRow(
        unread=_has_unread(session, handoff),
        id=handoff.id,
        status=handoff.status,
        urgency=handoff.urgency,
        created_at=handoff.created_at,
        updated_at=handoff.updated_at,
        assigned_to=handoff.assigned_to,
        assignee=names.get(handoff.assigned_to, "") if handoff.assigned_to else "",
        basis=basis,
        windows=list(handoff.windows or []) if summary_ok else [],
        reporter=handoff.reporter if summary_ok else "",
        snippet=snippet[:120] if snippet else None,
        connected_windows=list(handoff.connected_windows or []),
    )


@dataclass
class ConversationLine:
    id: int
    direction: str
    text: str | None
    created_at: datetime
    urgency: str | None
    staff_name: str
    delivery: str | None
    delivery_error: str | None


@dataclass
class CaseDetail:
    handoff: Handoff
    resident: Resident
    basis: str
    assignee: str
    messages: list[ConversationLine] = field(default_factory=list)
    notes: list[tuple[CaseNote, str]] = field(default_factory=list)
    history: list[tuple[AuditLog, str]] = field(default_factory=list)
    bookings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary_visible(self) -> bool:
        return self.basis in ("consent", "crisis_policy")

    @property
    def content_visible(self) -> bool:
        return self.basis == "consent"


def can_access(session: Session, viewer: Viewer, handoff_id: int) -> bool:
    found = session.scalar(
        select(Handoff.id).where(Handoff.id == handoff_id, rights_clause(viewer))
    )
    return found is not None


def get_case(session: Session, viewer: Viewer, handoff_id: int) -> CaseDetail | None:
    row = session.execute(
        select(Handoff, Resident)
        .join(Resident, Resident.id == Handoff.resident_id)
        .where(Handoff.id == handoff_id, rights_clause(viewer))
    ).first()
    if row is None:
        return None
    handoff, resident = row
    names = _names(session)
    detail = CaseDetail(
        handoff=handoff,
        resident=resident,
        basis=basis_for(handoff, resident),
        assignee=names.get(handoff.assigned_to, "") if handoff.assigned_to else "",
    )
    if detail.content_visible:
        detail.messages = _conversation(session, resident.id, names)
        detail.bookings = _bookings(session, resident.id)
    notes = session.scalars(
        select(CaseNote).where(CaseNote.handoff_id == handoff_id).order_by(CaseNote.id)
    )
    detail.notes = [(n, names.get(n.staff_user_id, "")) for n in notes]
    detail.history = _history(session, handoff, names)
    return detail


def _conversation(
    session: Session, resident_id: int, names: dict[int, str], limit: int = 300
) -> list[ConversationLine]:
    rows = session.execute(
        select(Message, Outbox.status, Outbox.last_error)
        .outerjoin(StaffReply, StaffReply.message_id == Message.id)
        .outerjoin(Outbox, Outbox.id == StaffReply.outbox_id)
        .where(Message.resident_id == resident_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    ).all()
    lines = [
        ConversationLine(
            id=m.id,
            direction=m.direction,
            text=m.text,
            created_at=m.created_at,
            urgency=m.urgency,
            staff_name=names.get(m.staff_user_id, "") if m.staff_user_id else "",
            delivery=status,
            delivery_error=error,
        )
        for m, status, error in rows
    ]
    lines.reverse()
    return lines


def _history(
    session: Session, handoff: Handoff, names: dict[int, str]
) -> list[tuple[AuditLog, str]]:
    rows = session.scalars(
        select(AuditLog)
        .where(
            or_(
                and_(AuditLog.target_type == "handoff", AuditLog.target_id == str(handoff.id)),
                and_(
                    AuditLog.target_type == "resident",
                    AuditLog.target_id == str(handoff.resident_id),
                    AuditLog.action.like("consent.%"),
                ),
            )
        )
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(200)
    )
    out: list[tuple[AuditLog, str]] = []
    for row in rows:
        who = ""
        if row.actor_type == "staff" and row.actor_id and row.actor_id.isdigit():
            who = names.get(int(row.actor_id), row.actor_id)
        elif row.actor_type == "resident":
            who = "相談者"
        else:
            who = "システム"
        out.append((row, who))
    return out


def _bookings(session: Session, resident_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Booking, Slot)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Booking.resident_id == resident_id)
        .order_by(Slot.starts_at.desc())
        .limit(50)
    ).all()
    return [
        {
            "reference": b.reference,
            "service_id": s.service_id,
            "starts_at": s.starts_at,
            "mode": b.mode,
            "status": b.status,
        }
        for b, s in rows
    ]


def export_rows(
    session: Session, viewer: Viewer, f: QueueFilters, limit: int = 50_000
) -> list[dict[str, Any]]:
    """The case list for CSV: metadata always; contact fields only with consent; never
    message text."""
    where = _filtered(viewer, f)
    result = session.execute(
        select(Handoff, Resident)
        .join(Resident, Resident.id == Handoff.resident_id)
        .where(*where)
        .order_by(*SORTS[f.sort])
        .limit(limit)
    ).all()
    names = _names(session)
    out: list[dict[str, Any]] = []
    for handoff, resident in result:
        basis = basis_for(handoff, resident)
        summary_ok = basis in ("consent", "crisis_policy")
        consent = basis == "consent"
        out.append(
            {
                "id": handoff.id,
                "created_at": handoff.created_at,
                "status": handoff.status,
                "urgency": handoff.urgency,
                "basis": basis,
                "reporter": handoff.reporter if summary_ok else "",
                "windows": list(handoff.windows or []) if summary_ok else [],
                "connected_windows": list(handoff.connected_windows or []),
                "assignee": names.get(handoff.assigned_to, "") if handoff.assigned_to else "",
                "first_response_at": handoff.first_response_at,
                "closed_at": handoff.closed_at,
                "contact_method": (handoff.contact_method or "") if consent else "",
                "contact_time": (handoff.contact_time or "") if consent else "",
            }
        )
    return out
