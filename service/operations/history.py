"""Segment shares over time: customers scored per UTC day, model version and segment.

Nothing is counted on the request path for it: the drift monitor already counts this worker's
customers per model version and segment, and a background task (started by the app's lifespan)
adds what those counts grew by since the last flush to a small SQLite file every few seconds and
at shutdown, under the day of the flush (so a customer scored in the last seconds before
midnight UTC may count for the next day). Several workers write the same file safely:
write-ahead logging, one short transaction per flush, and a busy timeout. A flush that fails (a
folder that cannot be written) is logged and keeps its counts for the next try; it never fails
a request. Rows older than ``KEPT_DAYS`` are removed as flushes go.

Segments are counted by id (ids are stable across retraining), with the name the answering
model gave the segment, so a day of a version no longer served still reads in words.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import anyio.to_thread

HISTORY_FILE = "segment-history.sqlite3"
KEPT_DAYS = 400
FLUSH_SECONDS = 5.0
BUSY_TIMEOUT_MS = 5_000
_SECONDS_PER_DAY = 86_400

logger = logging.getLogger(__name__)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS segment_counts (
        day TEXT NOT NULL,
        model_version TEXT NOT NULL,
        segment_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (day, model_version, segment_id)
    )""",
    "CREATE TABLE IF NOT EXISTS started (day TEXT NOT NULL)",
)
_ADD = (
    "INSERT INTO segment_counts (day, model_version, segment_id, name, count) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (day, model_version, segment_id) "
    "DO UPDATE SET count = count + excluded.count, name = excluded.name"
)

# (day number since the epoch, model version, segment id) -> customers
_Key = tuple[int, str, int]
# (model version, segment id) -> customers this worker has counted since it started
SeenCounts = Mapping[tuple[str, int], int]


@dataclass(frozen=True)
class SegmentCount:
    id: int
    name: str
    count: int


@dataclass(frozen=True)
class DayCounts:
    day: date
    model_version: str
    segments: tuple[SegmentCount, ...]

    @property
    def total(self) -> int:
        return sum(segment.count for segment in self.segments)


class SegmentHistory:
    """This worker's counts not yet written, and the file they are written to.

    ``seen`` gives this worker's running totals per (model version, segment id) (the drift
    monitor's counters); ``names_of`` a version's segment names, for the rows written.
    """

    def __init__(
        self,
        directory: Path,
        seen: Callable[[], SeenCounts],
        names_of: Callable[[str], Mapping[int, str]],
    ) -> None:
        self.path = directory / HISTORY_FILE
        self._seen = seen
        self._names_of = names_of
        self._lock = threading.Lock()
        self._pending: dict[_Key, int] = {}
        self._taken: dict[tuple[str, int], int] = {}
        self._failing = False

    def flush(self) -> bool:
        """Write the counts so far; False (logged, counts kept for the next try) on failure."""
        today = int(time.time()) // _SECONDS_PER_DAY
        with self._lock:
            seen = dict(self._seen())
            for (version, segment_id), total in seen.items():
                grown = total - self._taken.get((version, segment_id), 0)
                if grown > 0:
                    key = (today, version, segment_id)
                    self._pending[key] = self._pending.get(key, 0) + grown
            self._taken = seen
            taken, self._pending = self._pending, {}
        names = {version: self._names_of(version) for _, version, _ in taken}
        try:
            with self._connection() as connection, connection:
                connection.executemany(
                    _ADD,
                    [
                        (
                            _iso(day),
                            version,
                            segment_id,
                            names[version].get(segment_id, str(segment_id)),
                            number,
                        )
                        for (day, version, segment_id), number in taken.items()
                    ],
                )
                connection.execute(
                    "DELETE FROM segment_counts WHERE day < ?", (_iso(today - KEPT_DAYS + 1),)
                )
        except (OSError, sqlite3.Error) as exc:
            with self._lock:
                for key, number in taken.items():
                    self._pending[key] = self._pending.get(key, 0) + number
            if not self._failing:
                logger.warning(
                    "segment history: cannot write %s (%s: %s); counts are kept in memory and "
                    "written when it can be",
                    self.path,
                    type(exc).__name__,
                    exc,
                )
            self._failing = True
            return False
        if self._failing:
            logger.info("segment history: writing %s again", self.path)
            self._failing = False
        return True

    async def flush_periodically(self, seconds: float = FLUSH_SECONDS) -> None:
        """Flush every ``seconds`` until cancelled, in a thread: SQLite may wait for a lock."""
        while True:
            await asyncio.sleep(seconds)
            await anyio.to_thread.run_sync(self.flush)

    def days(self, last: int, version: str | None = None) -> tuple[list[DayCounts], date]:
        """The counts of the last ``last`` UTC days (today included), oldest first, and the
        first day they cover: the window's first day, or the day counting began if later."""
        self.flush()
        today = datetime.now(UTC).date()
        first = today - timedelta(days=last - 1)
        query = (
            "SELECT day, model_version, segment_id, name, count FROM segment_counts "
            "WHERE day >= ?" + (" AND model_version = ?" if version else "") + " "
            "ORDER BY day, model_version, segment_id"
        )
        parameters: tuple[str, ...] = (
            (first.isoformat(), version) if version else (first.isoformat(),)
        )
        with self._connection() as connection:
            rows = connection.execute(query, parameters).fetchall()
            started = connection.execute("SELECT min(day) FROM started").fetchone()[0]
        grouped: dict[tuple[str, str], list[SegmentCount]] = {}
        for day, model_version, segment_id, name, number in rows:
            grouped.setdefault((day, model_version), []).append(
                SegmentCount(segment_id, name, number)
            )
        entries = [
            DayCounts(date.fromisoformat(day), model_version, tuple(segments))
            for (day, model_version), segments in grouped.items()
        ]
        since = max(first, date.fromisoformat(started)) if started else first
        return entries, since

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)) as connection:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            with connection:
                for statement in _SCHEMA:
                    connection.execute(statement)
                if connection.execute("SELECT count(*) FROM started").fetchone()[0] == 0:
                    connection.execute(
                        "INSERT INTO started (day) VALUES (?)",
                        (datetime.now(UTC).date().isoformat(),),
                    )
            yield connection


def _iso(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()
