"""SQLAlchemy 2.x typed declarative models of the business core.

Conventions:

- Timestamps are timezone-aware UTC in Python. They are stored as ``timestamptz`` on
  PostgreSQL and as naive UTC text on SQLite (:class:`UTCDateTime` converts both ways and
  rejects naive datetimes on write, so local times can never slip in).
- Money is ``Numeric(12, 2)`` and ``Decimal`` in Python.
- Calendar dates (bill due dates, paid dates) are plain ``Date``.
- Enumerated values are short strings checked by CHECK constraints, so they stay readable in
  SQL and in the HTTP API (Chinese where users see them: 居民/非居民, work-order types and
  statuses; English codes for internal ones: urban/rural/remote, planned/fault).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

AREA_TYPES = ("urban", "rural", "remote")
CATEGORIES = ("居民", "非居民")
RESIDENTIAL = "居民"
NON_RESIDENTIAL = "非居民"
OUTAGE_KINDS = ("planned", "fault")
WORK_ORDER_TYPES = ("故障报修", "投诉", "咨询", "催办")
REPAIR = "故障报修"
CALLBACK_STATUSES = ("待回拨", "已回拨", "已关闭")

Money = Numeric(12, 2, asdecimal=True)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; timestamptz on PostgreSQL, naive UTC on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime not allowed (use UTC-aware): {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --- grid -------------------------------------------------------------------------------


class Substation(Base):
    __tablename__ = "substations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    city: Mapped[str] = mapped_column(String(16))
    county: Mapped[str] = mapped_column(String(32))


class Feeder(Base):
    __tablename__ = "feeders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    substation_id: Mapped[int] = mapped_column(ForeignKey("substations.id"), index=True)


class TransformerArea(Base):
    __tablename__ = "transformer_areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    feeder_id: Mapped[int] = mapped_column(ForeignKey("feeders.id"), index=True)
    area_type: Mapped[str] = mapped_column(String(8))

    __table_args__ = (CheckConstraint(f"area_type IN {_in(AREA_TYPES)}", name="area_type"),)


# --- customers and accounts -------------------------------------------------------------


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))

    phones: Mapped[list[CustomerPhone]] = relationship(back_populates="customer")
    accounts: Mapped[list[Account]] = relationship(back_populates="customer")


class CustomerPhone(Base):
    __tablename__ = "customer_phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)

    customer: Mapped[Customer] = relationship(back_populates="phones")
    __table_args__ = (UniqueConstraint("customer_id", "phone", name="customer_phone"),)


class Account(Base):
    """One electricity account (户号); a customer may hold several."""

    __tablename__ = "accounts"

    account_no: Mapped[str] = mapped_column(String(10), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    address: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(16))  # 盟市
    county: Mapped[str] = mapped_column(String(32))  # 旗县/区
    area_type: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(8))
    transformer_area_id: Mapped[int] = mapped_column(ForeignKey("transformer_areas.id"), index=True)
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))

    customer: Mapped[Customer] = relationship(back_populates="accounts")
    transformer_area: Mapped[TransformerArea] = relationship()

    __table_args__ = (
        CheckConstraint(f"area_type IN {_in(AREA_TYPES)}", name="area_type"),
        CheckConstraint(f"category IN {_in(CATEGORIES)}", name="category"),
        CheckConstraint("length(account_no) = 10", name="account_no_len"),
    )


# --- billing ----------------------------------------------------------------------------


class Bill(Base):
    __tablename__ = "bills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_no: Mapped[str] = mapped_column(ForeignKey("accounts.account_no"))
    period: Mapped[str] = mapped_column(String(7))  # "YYYY-MM"
    kwh: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    amount: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    due_date: Mapped[date] = mapped_column(Date)
    paid_date: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (UniqueConstraint("account_no", "period", name="account_period"),)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_no: Mapped[str] = mapped_column(ForeignKey("accounts.account_no"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))  # 营业厅, 网上国网, 银行代扣 ...
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"))


# --- outages ----------------------------------------------------------------------------


class OutageNotice(Base):
    __tablename__ = "outage_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expected_restore: Mapped[datetime] = mapped_column(UTCDateTime)
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200))
    area: Mapped[str] = mapped_column(String(400))  # area text read to callers

    feeders: Mapped[list[OutageFeeder]] = relationship(cascade="all, delete-orphan")
    transformer_areas: Mapped[list[OutageArea]] = relationship(cascade="all, delete-orphan")

    __table_args__ = (CheckConstraint(f"kind IN {_in(OUTAGE_KINDS)}", name="kind"),)


class OutageFeeder(Base):
    __tablename__ = "outage_feeders"

    outage_id: Mapped[int] = mapped_column(ForeignKey("outage_notices.id"), primary_key=True)
    feeder_id: Mapped[int] = mapped_column(ForeignKey("feeders.id"), primary_key=True, index=True)


class OutageArea(Base):
    __tablename__ = "outage_areas"

    outage_id: Mapped[int] = mapped_column(ForeignKey("outage_notices.id"), primary_key=True)
    transformer_area_id: Mapped[int] = mapped_column(
        ForeignKey("transformer_areas.id"), primary_key=True, index=True
    )


# --- work orders ------------------------------------------------------------------------


class WorkOrder(Base):
    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    type: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), index=True)
    fault_kind: Mapped[str | None] = mapped_column(String(32))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    account_no: Mapped[str | None] = mapped_column(ForeignKey("accounts.account_no"), index=True)
    source_call_id: Mapped[str | None] = mapped_column(String(64))
    arrival_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    transitions: Mapped[list[WorkOrderTransition]] = relationship(
        back_populates="work_order", order_by="WorkOrderTransition.id"
    )

    __table_args__ = (CheckConstraint(f"type IN {_in(WORK_ORDER_TYPES)}", name="type"),)


class WorkOrderTransition(Base):
    __tablename__ = "work_order_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(8))  # None: the order was created
    to_status: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(400))

    work_order: Mapped[WorkOrder] = relationship(back_populates="transitions")


# --- calls, callbacks, announcements ----------------------------------------------------


class CallRecord(Base):
    __tablename__ = "call_records"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    caller: Mapped[str | None] = mapped_column(String(128), index=True)
    callee: Mapped[str | None] = mapped_column(String(128))
    sip_call_id: Mapped[str | None] = mapped_column(String(255))
    media_leg_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ivr_path: Mapped[list[Any]] = mapped_column(JSON, default=list)
    keys: Mapped[list[Any]] = mapped_column(JSON, default=list)
    prompts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    speech: Mapped[list[Any]] = mapped_column(JSON, default=list)
    result: Mapped[str | None] = mapped_column(String(64))
    hangup_by: Mapped[str | None] = mapped_column(String(32))
    sip_cause: Mapped[int | None] = mapped_column(Integer)
    recording_path: Mapped[str | None] = mapped_column(String(400))
    # What the caller keyed or confirmed; informational, so no foreign key.
    account_no: Mapped[str | None] = mapped_column(String(32), index=True)
    error: Mapped[str | None] = mapped_column(Text)


class CallbackRequest(Base):
    __tablename__ = "callback_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    account_no: Mapped[str | None] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(String(400))
    source_call_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(8), default="待回拨")

    __table_args__ = (CheckConstraint(f"status IN {_in(CALLBACK_STATUSES)}", name="status"),)


class EmergencyAnnouncement(Base):
    """At most one row (id 1): the announcement played before the main menu."""

    __tablename__ = "emergency_announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(1000))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
