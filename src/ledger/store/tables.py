"""The typed-class way of writing the schema (store/models.py), built on SQLAlchemy Core
alone: each `class X(Base)` becomes a `Table` in `Base.metadata`, and `X.column` is that
table's `Column`, so `select(m.Journal.id)`, `insert(m.Posting)` and `.join(m.Account,
...)` read as they did with the ORM's declarative classes.

Why not the ORM: the ledger never uses a Session, mapped objects or relationships, only
Core statements; importing `sqlalchemy.orm` and building its mappers cost about as much
again as importing SQLAlchemy itself, at the start of every command
(docs/architecture.md#start-up). The rules of the ORM's declarative mapping that the
schema relies on are kept, so the tables are the same (`alembic check` still finds no
drift, tests/store/test_migrations.py):
  * a column is named after its attribute, in the order written;
  * `Mapped[T]` without `None` is NOT NULL, `Mapped[T | None]` may be NULL, a primary
    key is never NULL (an explicit `nullable=` wins);
  * a column given only a foreign key takes its type from `Mapped[int]` (Integer);
  * `__tablename__` names the table and `__table_args__` gives its constraints, indexes
    and (in a final dict) its options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, MetaData, String, Table, Text
from sqlalchemy.types import TypeEngine

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapped
else:
    class Mapped:  # only ever written in annotations (strings: `from __future__ ...`)
        def __class_getitem__(cls, item):
            return cls

_TYPES = {"int": Integer, "str": String, "dt.date": Date, "dt.datetime": DateTime,
          "bigint": BigInteger, "text": Text}


class _Spec:
    """What `mapped_column(...)` was given, until the class names its column."""

    def __init__(self, args: tuple, kwargs: dict) -> None:
        self.args, self.kwargs = args, kwargs


def mapped_column(*args: Any, **kwargs: Any) -> Any:
    return _Spec(args, kwargs)


def _nullable(annotation: str) -> bool:
    text = annotation.replace(" ", "")
    return text.startswith("Mapped[") and ("|None" in text or "Optional[" in text)


def _inner(annotation: str) -> str:
    text = annotation.replace(" ", "")
    inner = text[len("Mapped["):-1] if text.startswith("Mapped[") else text
    return inner.replace("|None", "")


class Base:
    """Every table of the schema; `Base.metadata` is what Alembic compares."""

    metadata = MetaData()
    __tablename__: str
    __table__: Table

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        annotations = cls.__dict__.get("__annotations__", {})
        columns = []
        for name, value in list(cls.__dict__.items()):
            if not isinstance(value, _Spec):
                continue
            args, kwargs = list(value.args), dict(value.kwargs)
            if not any(isinstance(a, TypeEngine) or (isinstance(a, type)
                       and issubclass(a, TypeEngine)) for a in args):
                kind = _TYPES.get(_inner(str(annotations.get(name, ""))))
                if kind is not None:
                    args.insert(0, kind())
            if "nullable" not in kwargs and not kwargs.get("primary_key"):
                kwargs["nullable"] = _nullable(str(annotations.get(name, "")))
            columns.append(Column(name, *args, **kwargs))
        table_args = cls.__dict__.get("__table_args__", ())
        options = table_args[-1] if table_args and isinstance(table_args[-1], dict) else {}
        extra = [a for a in table_args if not isinstance(a, dict)]
        table = Table(cls.__tablename__, Base.metadata, *columns, *extra, **options)
        cls.__table__ = table
        for column in table.c:
            setattr(cls, column.key, column)

    @classmethod
    def __clause_element__(cls) -> Table:
        return cls.__table__


def aliased(model: type[Base], name: str | None = None) -> Any:
    """Another name for a table in one statement (a self-join), its columns as
    attributes, as the ORM's `aliased` gives."""
    alias = model.__table__.alias(name)

    class _Alias:
        @classmethod
        def __clause_element__(cls):
            return alias

    for column in alias.c:
        setattr(_Alias, column.key, column)
    return _Alias


__all__ = ["Base", "Mapped", "aliased", "mapped_column"]
