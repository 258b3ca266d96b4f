"""The backup replica (`database.backup_url`): a PostgreSQL streaming replica that `appliance
backup` reads, and how far it trails the primary, for the backup and for readiness.

A replica that is idle and up to date has replayed nothing for a long time, so its last replay
time alone says nothing. The check compares positions first: a replica that has replayed, within
half a second, what the primary had written when the check began trails by nothing. Otherwise it
trails by the time since it last replayed a commit (after a long quiet spell that overstates a
short delay, but such a replica is also not applying what it gets).

Nothing here needs more than the owner role on the replica: the functions used are open to
every role.
"""

from __future__ import annotations

import math
import time

import psycopg2

#: How long a replica may take to replay what the primary had written and still count as current.
SETTLE_SECONDS = 0.5
PRIMARY_POSITION_SQL = "SELECT pg_current_wal_lsn()::text"
REPLICA_SQL = (
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() >= %s::pg_lsn,"
    " EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8"
)


class BackupReplica:
    def __init__(self, url: str, max_lag: int, connect_timeout: int = 3):
        self.url = url
        self.max_lag = max_lag
        self._connect_timeout = connect_timeout

    def lag(self, primary_position: str) -> float:
        """Seconds the replica trails a primary that stood at `primary_position` (a WAL position,
        `PRIMARY_POSITION_SQL`): 0 when it has replayed that far, infinite when it never
        replayed anything. psycopg2.Error when it cannot be reached."""
        connection = psycopg2.connect(self.url, connect_timeout=self._connect_timeout)
        try:
            connection.autocommit = True
            settled = time.monotonic() + SETTLE_SECONDS
            with connection.cursor() as cursor:
                while True:
                    cursor.execute(REPLICA_SQL, (primary_position,))
                    recovering, caught_up, seconds = cursor.fetchone()
                    if not recovering or caught_up:  # caught up, or promoted: it trails nothing
                        return 0.0
                    if time.monotonic() >= settled:
                        return math.inf if seconds is None else max(0.0, seconds)
                    time.sleep(0.05)
        finally:
            connection.close()

    def problem(self, primary_position: str) -> str | None:
        """None when the replica may be used; else what is wrong with it, in a few words."""
        try:
            lag = self.lag(primary_position)
        except psycopg2.Error as exc:
            return f"unavailable ({type(exc).__name__})"
        if lag > self.max_lag:
            behind = "it has replayed nothing" if math.isinf(lag) else f"{lag:.0f} s behind"
            return f"lagging ({behind}; limit {self.max_lag} s)"
        return None


def backup_replica(settings) -> BackupReplica | None:
    """The configured backup replica (`appliance.settings.Settings`), if any."""
    database = settings.database
    if not database.backup_url:
        return None
    return BackupReplica(database.backup_url, database.backup_max_lag, database.connect_timeout)
