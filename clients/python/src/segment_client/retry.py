"""When to try a request again, and how long to wait first.

Only failures that may pass are retried: 502/503/504 (a proxy or the service is starting, or has
no model yet) and transport failures (connection refused or reset, timeouts). A 4xx is never
retried: the same request would be refused again. Scoring is a pure function of the request, so
repeating a POST /segment whose answer was lost is safe.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from segment_client.errors import (
    InvalidInputError,
    RequestTimeoutError,
    SegmentationError,
    UnavailableError,
    error_from_response,
)

logger = logging.getLogger(__name__)

# Transport failures worth another attempt; others (a malformed URL, an unsupported scheme, a
# proxy refusing us) would fail the same way again.
_RETRYABLE_TRANSPORT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    ``retries`` is the number of attempts after the first. The n-th wait is
    ``backoff * multiplier ** (n - 1)``, capped at ``max_delay``, and shortened by a random
    fraction of up to ``jitter`` so that many clients do not retry in lock-step. A
    ``Retry-After`` from the service replaces the computed wait; one longer than ``max_delay``
    ends the retries at once rather than blocking the caller or arriving too early.
    """

    retries: int = 3
    backoff: float = 0.25
    multiplier: float = 2.0
    max_delay: float = 8.0
    jitter: float = 0.5
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({502, 503, 504}))

    def __post_init__(self) -> None:
        for name in ("retries", "backoff", "max_delay"):
            if getattr(self, name) < 0:
                raise InvalidInputError(name, f"must be 0 or more, not {getattr(self, name)}")
        if self.multiplier < 1:
            raise InvalidInputError("multiplier", f"must be at least 1, not {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise InvalidInputError("jitter", f"must be between 0 and 1, not {self.jitter}")
        if any(400 <= status < 500 for status in self.statuses):
            raise InvalidInputError("statuses", "4xx statuses are never retried")

    def delay(self, retry: int, random_fraction: float) -> float:
        """The wait before the ``retry``-th retry (1-based); ``random_fraction`` is in [0, 1)."""
        base = min(self.max_delay, self.backoff * self.multiplier ** (retry - 1))
        return base * (1 - self.jitter * random_fraction)


NO_RETRIES = RetryPolicy(retries=0)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), if usable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Retrier:
    """The retry bookkeeping of one logical request; the sync and async clients share it.

    After each attempt the caller reports the outcome and gets either the wait before the next
    attempt, None (success), or an exception to raise.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        what: str,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self.what = what
        self.attempts = 0
        self._random = random_fraction

    def after_response(self, response: httpx.Response) -> float | None:
        """None for a 2xx; the wait before retrying a retryable status; else raises."""
        self.attempts += 1
        if response.is_success:
            return None
        error = error_from_response(response)
        if response.status_code not in self.policy.statuses:
            raise error
        delay = self._next_delay(retry_after_seconds(response))
        if delay is None:
            raise UnavailableError(
                f"{error.message} ({self._gave_up()})",
                attempts=self.attempts,
                status=error.status,
                code=error.code,
                details=error.details,
                request_id=error.request_id,
                total=error.total,
            )
        self._log(f"{response.status_code} {error.code}", delay)
        return delay

    def after_transport_error(self, exc: httpx.TransportError) -> float:
        """The wait before retrying a connection failure or timeout; raises when giving up."""
        self.attempts += 1
        if not isinstance(exc, _RETRYABLE_TRANSPORT_ERRORS):
            raise SegmentationError(
                f"{self.what} failed: {_describe(exc)}", code="transport_error"
            ) from exc
        delay = self._next_delay(None)
        if delay is not None:
            self._log(type(exc).__name__, delay)
            return delay
        timed_out = isinstance(exc, httpx.TimeoutException)
        error_type = RequestTimeoutError if timed_out else UnavailableError
        raise error_type(
            f"{self.what} failed: {_describe(exc)} ({self._gave_up()})",
            attempts=self.attempts,
            code="timeout" if timed_out else "connection_error",
        ) from exc

    def _next_delay(self, retry_after: float | None) -> float | None:
        if self.attempts > self.policy.retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.policy.max_delay else None
        return self.policy.delay(self.attempts, self._random())

    def _gave_up(self) -> str:
        attempts = f"{self.attempts} attempt{'s' if self.attempts > 1 else ''}"
        if self.attempts <= self.policy.retries:
            return f"gave up after {attempts}: Retry-After is longer than max_delay"
        return f"gave up after {attempts}"

    def _log(self, reason: str, delay: float) -> None:
        logger.info(
            "%s: %s; retrying in %.2fs (attempt %d of %d)",
            self.what,
            reason,
            delay,
            self.attempts + 1,
            self.policy.retries + 1,
        )


def _describe(exc: Exception) -> str:
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
