"""Base models: UUID keys, JSON text, and the tenant filter every practice-owned table gets."""

from __future__ import annotations

import json
import uuid

import peewee

from appliance import tenancy

database = peewee.DatabaseProxy()


class JSONField(peewee.TextField):
    """JSON stored as text: identical on PostgreSQL and SQLite."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)

    class Meta:
        database = database
        legacy_table_names = False


class TenantModel(BaseModel):
    """A table whose rows belong to one practice.

    The practice filter is added here, not in handlers: `select`, `update` and `delete` only
    see the current practice's rows, and `insert` stamps (or checks) `practice_id`.
    """

    practice_id = peewee.UUIDField()
    #: True for tables whose rows may belong to no practice yet (users, some audit entries).
    practice_optional = False

    @classmethod
    def _scoped(cls, query):
        practice_id = tenancy.current()
        return query if practice_id is None else query.where(cls.practice_id == practice_id)

    @classmethod
    def select(cls, *fields):
        return cls._scoped(super().select(*fields))

    @classmethod
    def update(cls, __data=None, **update):
        return cls._scoped(super().update(__data, **update))

    @classmethod
    def delete(cls):
        return cls._scoped(super().delete())

    @classmethod
    def _stamp(cls, row: dict) -> dict:
        practice_id = tenancy.current()
        key = next(
            (k for k in row if k is cls.practice_id or (isinstance(k, str) and k == "practice_id")),
            None,
        )
        if practice_id is None:
            if (key is None or row[key] is None) and not cls.practice_optional:
                raise tenancy.TenancyError(f"insert into {cls.__name__} needs a practice_id")
            return row
        if key is None:
            return {**row, "practice_id": practice_id}
        if uuid.UUID(str(row[key])) != practice_id:
            raise tenancy.TenancyError(f"insert into {cls.__name__} for another practice")
        return row

    @classmethod
    def insert(cls, __data=None, **insert):
        return super().insert(cls._stamp({**(__data or {}), **insert}))

    @classmethod
    def insert_many(cls, rows, fields=None):
        if fields is not None:
            raise tenancy.TenancyError("insert_many with positional fields bypasses tenancy")
        return super().insert_many([cls._stamp(dict(row)) for row in rows])
