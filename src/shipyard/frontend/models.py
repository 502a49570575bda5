"""The frontend's tables: tokens, appliances, hosts and attributes (SQLAlchemy 2, typed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Token(Base):
    """An admin, join or host token; only its SHA-256 digest is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    host_id: Mapped[int | None] = mapped_column(
        ForeignKey("hosts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]
    # Join tokens: how many joins remain (None: no limit) and the one appliance they join.
    uses_left: Mapped[int | None]
    appliance: Mapped[str | None] = mapped_column(String(63))


class Appliance(Base):
    """A kind of host (Stacki's appliance) and the profile its hosts install."""

    __tablename__ = "appliances"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Host(Base):
    """A machine known to the frontend, named APPLIANCE-RACK-RANK unless named by hand."""

    __tablename__ = "hosts"
    __table_args__ = (UniqueConstraint("appliance_id", "rack", "rank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    appliance_id: Mapped[int] = mapped_column(ForeignKey("appliances.id"), index=True)
    rack: Mapped[int]
    rank: Mapped[int]
    instance_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    macs: Mapped[list[str]] = mapped_column(JSON, default=list)
    ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16))
    transitions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The address its last join came from, as the frontend saw it (not as the host said).
    source_ip: Mapped[str] = mapped_column(String(45), default="", server_default="")
    # SHA-256 of the nonce handed out on its first identity join; re-joins must show it.
    nonce_digest: Mapped[str | None] = mapped_column(String(64))

    appliance: Mapped[Appliance] = relationship(lazy="joined")

    # The same names as the host rows of crud.joining, so views take either.
    @property
    def appliance_name(self) -> str:
        return self.appliance.name

    @property
    def appliance_profile(self) -> dict[str, Any]:
        return self.appliance.profile


class Attribute(Base):
    """A key/value at global, appliance or host scope; ``target`` is 0 for global."""

    __tablename__ = "attributes"
    __table_args__ = (UniqueConstraint("scope", "target", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[int] = mapped_column(default=0)
    key: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(Text)
    shadow: Mapped[bool] = mapped_column(default=False)
