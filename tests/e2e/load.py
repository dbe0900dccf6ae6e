"""Traffic for end-to-end tests: threads posting batches to a real server while something
changes under it (a reload, a promotion), counting every status and every failed request.

Traffic goes to 127.0.0.1 only, from a few threads, bounded in count and in time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.service.conftest import AUTH

BATCH = {
    "customers": [
        {
            "customer_id": i,
            "age": 20 + 9 * i,
            "annual_income": 15 + 20 * i,
            "spending_score": 90 - 15 * i,
        }
        for i in range(5)
    ]
}


@dataclass
class Load:
    """Threads posting batches until stopped, at most ``per_thread`` requests and ``seconds``."""

    url: str
    threads: int = 4
    per_thread: int = 400
    seconds: float = 40
    statuses: Counter[int] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        with httpx.Client(base_url=self.url, headers=AUTH, timeout=10) as client:
            for _ in range(self.per_thread):
                if self.stop.is_set() or time.monotonic() > deadline:
                    return
                try:
                    response = client.post("/segment", json=BATCH)
                    version = response.json().get("model_version", "?")
                except (httpx.HTTPError, ValueError) as exc:
                    with self.lock:
                        self.errors.append(repr(exc))
                    continue
                with self.lock:
                    self.statuses[response.status_code] += 1
                    self.versions[version] += 1

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + len(self.errors)


@contextmanager
def streaming(load: Load) -> Iterator[Load]:
    workers = [threading.Thread(target=load.run) for _ in range(load.threads)]
    for worker in workers:
        worker.start()
    try:
        yield load
    finally:
        load.stop.set()
        for worker in workers:
            worker.join(timeout=30)
