"""HTTP checks that deploy/container-test.sh runs against the container, on loopback only.

Standard library only, so it runs on the host's ``python3`` without the project installed.

- ``ready URL``: wait for ``/health/ready`` to answer 200; print the model version.
- ``unready URL``: ``/health/live`` answers 200 while ``/health/ready`` answers 503.
- ``score URL``: one customer and a batch get the right shape of answer.
- ``drain URL --pid PID --logs-cmd CMD``: SIGTERM during a stream of requests; none may fail.

Requests carry ``X-API-Key: $CONTAINER_TEST_API_KEY`` when that is set (the server may require a
key; health routes never do).

The drain check is built so that it cannot pass by accident and does not fail by design. Every
request is sent with ``Expect: 100-continue``: the server answers ``100 Continue`` only when the
application has taken the request and reads its body, so the client knows whether its request
reached the server.

* Held requests: taken by the server (100 Continue) and half their body sent before SIGTERM;
  the rest is sent only once the server's own log says every worker is shutting down. Each must
  come back 200 with all its results: the drain, on requests in flight for the whole shutdown.
* A stream of clients posts batches on new connections before, during and after the signal.
  Every request that reached the server must come back 200, whenever it was sent. A request that
  never reached it (connection refused, or reset while it sat in the kernel's accept queue when
  the listener closed) is not a failure if it was sent after SIGTERM or in the last second
  before it (the listener closes within a fraction of a second of the signal); earlier, or if
  the connection hangs, it is.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

READY_TIMEOUT = 120.0
REQUEST_TIMEOUT = 15.0
HELD_REQUESTS = 4
HELD_BATCH = 50
STREAM_CLIENTS = 4
STREAM_BATCHES = (1, 100, 2_000)
STREAM_WARMUP = 1.5
STREAM_DEADLINE = 60.0
STREAM_MAX_REQUESTS = 20_000
DRAIN_LOG_TIMEOUT = 15.0
#: A request the kernel queued this long before SIGTERM may not have been accepted yet when the
#: listener closed; one queued earlier than that should long have been taken.
QUEUED_GRACE = 1.0


def auth_headers() -> dict[str, str]:
    """The API key container-test gave the server (SEGMENT_API_KEYS), if any."""
    key = os.environ.get("CONTAINER_TEST_API_KEY", "")
    return {"x-api-key": key} if key else {}


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class CheckFailed(Exception):
    """A check did not hold; the message says what was seen."""


def endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname not in {"127.0.0.1", "localhost", "::1"} or parts.port is None:
        raise SystemExit(f"container_client: only loopback URLs with a port, not {url!r}")
    return parts.hostname, parts.port


def customer(index: int) -> dict[str, object]:
    """A valid customer that varies with the index, so batches cover several segments."""
    return {
        "customer_id": f"C-{index}",
        "age": 18 + index % 53,
        "annual_income": 15 + (index * 7) % 120,
        "spending_score": 1 + (index * 13) % 100,
    }


def batch_body(size: int, start: int = 0) -> bytes:
    customers = [customer(start + i) for i in range(size)]
    return json.dumps({"customers": customers}).encode()


def request(
    url: str, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, object]]:
    host, port = endpoint(url)
    connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
    try:
        headers = {"content-type": "application/json"} if body is not None else {}
        headers.update(auth_headers())
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        payload = json.loads(response.read() or b"null")
        return response.status, payload if isinstance(payload, dict) else {"body": payload}
    finally:
        connection.close()


def check_results(payload: dict[str, object], expected_ids: list[str]) -> None:
    results = payload.get("results")
    if not isinstance(results, list) or len(results) != len(expected_ids):
        raise CheckFailed(f"expected {len(expected_ids)} results, got {str(payload)[:200]}")
    for result, expected in zip(results, expected_ids, strict=True):
        if not isinstance(result, dict) or result.get("customer_id") != expected:
            raise CheckFailed(f"result {result!r} is not for customer {expected}")
        if not isinstance(result.get("segment_id"), int) or not result.get("segment_name"):
            raise CheckFailed(f"result without a segment: {result!r}")


# --- ready, unready, score -------------------------------------------------------------------


def wait_ready(url: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            status, payload = request(url, "GET", "/health/ready")
            if status == 200:
                return str(payload.get("model_version"))
            last = f"{status} {payload}"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.25)
    raise CheckFailed(f"/health/ready not 200 within {timeout:.0f}s (last: {last})")


def check_unready(url: str, timeout: float) -> str:
    wait_live(url, timeout)
    status, payload = request(url, "GET", "/health/ready")
    if status != 503:
        raise CheckFailed(f"/health/ready answered {status}, expected 503: {payload}")
    return str(payload.get("reason"))


def wait_live(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if request(url, "GET", "/health/live")[0] == 200:
                return
        except (OSError, http.client.HTTPException, ValueError):
            pass
        if time.monotonic() > deadline:
            raise CheckFailed(f"/health/live not 200 within {timeout:.0f}s")
        time.sleep(0.25)


def check_scoring(url: str) -> str:
    one = customer(1)
    status, payload = request(url, "POST", "/segment", json.dumps(one).encode())
    if status != 200:
        raise CheckFailed(f"one customer: {status} {payload}")
    check_results(payload, ["C-1"])
    size = 500
    status, payload = request(url, "POST", "/segment", batch_body(size))
    if status != 200:
        raise CheckFailed(f"batch: {status} {str(payload)[:300]}")
    check_results(payload, [f"C-{i}" for i in range(size)])
    results = payload["results"]
    assert isinstance(results, list)
    segments = sorted({result["segment_id"] for result in results})
    status, payload = request(url, "POST", "/segment", b'{"age": 500}')
    if status != 422:
        raise CheckFailed(f"an invalid customer got {status}, expected 422: {payload}")
    return f"1 customer and a batch of {size} (segments {segments}); an invalid one gets 422"


# --- drain -----------------------------------------------------------------------------------


class Exchange:
    """One POST /segment on its own connection, with ``Expect: 100-continue``.

    The server answers ``100 Continue`` only once the application has taken the request and
    starts reading its body, so a client that got it knows its request reached the server: any
    failure after that is the server's. A connection that ends before that answer never reached
    the application (refused, or reset while still in the kernel's accept queue).
    """

    def __init__(self, url: str, body: bytes) -> None:
        self.host, self.port = endpoint(url)
        self.body = body
        self.sock: socket.socket | None = None
        self.reached = False

    def open(self) -> None:
        """Connect and send the head; return once the server said ``100 Continue``."""
        self.sock = socket.create_connection((self.host, self.port), timeout=REQUEST_TIMEOUT)
        extra = "".join(f"{name}: {value}\r\n" for name, value in auth_headers().items())
        head = (
            f"POST /segment HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nConnection: close\r\n{extra}"
            f"Expect: 100-continue\r\nContent-Length: {len(self.body)}\r\n\r\n"
        )
        self.sock.sendall(head.encode())
        answer = b""
        while not answer.endswith(b"\r\n\r\n"):
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionAbortedError("closed before any answer")
            answer += chunk
        if not answer.startswith(b"HTTP/1.1 100 "):
            self.reached = True
            raise CheckFailed(f"answered before reading the body: {answer[:80]!r}")
        self.reached = True

    def send(self, part: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(part)

    def finish(self) -> tuple[int, dict[str, object], dict[str, str]]:
        assert self.sock is not None
        response = http.client.HTTPResponse(self.sock)
        response.begin()
        payload = json.loads(response.read())
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, payload, headers

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


@dataclass
class Outcome:
    started: float
    ended: float
    ok: bool
    #: The server had taken the request (it answered 100 Continue).
    reached: bool
    detail: str = ""


@dataclass
class Stream:
    url: str
    stop: threading.Event = field(default_factory=threading.Event)
    signalled_at: float | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, client: int) -> None:
        count = 0
        deadline = time.monotonic() + STREAM_DEADLINE
        while not self.stop.is_set() and time.monotonic() < deadline:
            size = STREAM_BATCHES[count % len(STREAM_BATCHES)]
            outcome = self.one(size, client * 1_000_000 + count * 10_000)
            count += 1
            with self.lock:
                self.outcomes.append(outcome)
                if len(self.outcomes) >= STREAM_MAX_REQUESTS:
                    self.stop.set()
                signalled = self.signalled_at
            if not outcome.ok and signalled is not None and outcome.started >= signalled:
                return  # the server is going away: this client stops knocking

    def one(self, size: int, start: int) -> Outcome:
        exchange = Exchange(self.url, batch_body(size, start))
        started = time.monotonic()
        try:
            exchange.open()
            exchange.send(exchange.body)
            status, payload, _ = exchange.finish()
            if status != 200:
                raise CheckFailed(f"status {status}: {str(payload)[:200]}")
            check_results(payload, [f"C-{start + i}" for i in range(size)])
            return Outcome(started, time.monotonic(), ok=True, reached=True)
        except (OSError, http.client.HTTPException, ValueError, CheckFailed) as exc:
            detail = f"{type(exc).__name__}: {exc}"
            return Outcome(started, time.monotonic(), False, exchange.reached, detail)
        finally:
            exchange.close()


def wait_for_draining(logs_cmd: str) -> str:
    """Until the server's log says each worker is shutting down with connections still open."""
    deadline = time.monotonic() + DRAIN_LOG_TIMEOUT
    seen = ""
    while time.monotonic() < deadline:
        logs = subprocess.run(
            shlex.split(logs_cmd), capture_output=True, text=True, check=False, timeout=30
        )
        seen = logs.stdout + logs.stderr
        workers = seen.count("Started server process")
        shutting_down = seen.count("Shutting down")
        waiting = seen.count("Waiting for connections to close")
        if workers and shutting_down >= workers and waiting:
            return f"{shutting_down} of {workers} worker(s) shutting down, {waiting} waiting"
        time.sleep(0.1)
    tail = "\n".join(seen.splitlines()[-15:])
    raise CheckFailed(f"the server never logged that it was draining; its log ends:\n{tail}")


def hold(url: str, index: int) -> tuple[Exchange, list[str]]:
    """A request the server has taken, with half its body sent."""
    start = 9_000_000 + index * 1_000
    exchange = Exchange(url, batch_body(HELD_BATCH, start))
    exchange.open()
    exchange.send(exchange.body[: len(exchange.body) // 2])
    return exchange, [f"C-{start + i}" for i in range(HELD_BATCH)]


def drain(url: str, pid: int, logs_cmd: str) -> None:
    held = [hold(url, index) for index in range(HELD_REQUESTS)]
    stream = Stream(url)
    clients = [
        threading.Thread(target=stream.run, args=(client,), daemon=True)
        for client in range(STREAM_CLIENTS)
    ]
    for client in clients:
        client.start()
    try:
        time.sleep(STREAM_WARMUP)
        with stream.lock:
            signalled = stream.signalled_at = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        say(f"SIGTERM sent; the server logged: {wait_for_draining(logs_cmd)}")
        resumed = time.monotonic() - signalled
        for exchange, _ in held:
            exchange.send(exchange.body[len(exchange.body) // 2 :])
        for index, (exchange, ids) in enumerate(held):
            status, payload, headers = exchange.finish()
            if status != 200:
                raise CheckFailed(f"held request {index}: {status} {str(payload)[:300]}")
            check_results(payload, ids)
            if headers.get("connection", "").lower() != "close":
                raise CheckFailed(f"held request {index}: connection not closed after it")
        say(
            f"{HELD_REQUESTS} requests taken before SIGTERM (100 Continue) with half a body, "
            f"the rest sent {resumed:.1f}s after it while the server drained: "
            f"all 200 with their {HELD_BATCH} results"
        )
    finally:
        for exchange, _ in held:
            exchange.close()
        for client in clients:
            client.join(timeout=STREAM_DEADLINE + 2 * REQUEST_TIMEOUT)
        stream.stop.set()
    say(judge_stream(stream.outcomes, signalled))


def judge_stream(outcomes: list[Outcome], signalled: float) -> str:
    """Every request that reached the server succeeded; the others are accounted for."""
    reached = [o for o in outcomes if o.reached]
    in_flight = [o for o in reached if o.started < signalled <= o.ended]
    served_after = [o for o in reached if o.ok and o.started >= signalled]
    unreached = [o for o in outcomes if not o.reached]
    queued_before = [o for o in unreached if signalled - QUEUED_GRACE <= o.started < signalled]
    knocked_after = [o for o in unreached if o.started >= signalled]
    problems = [f"reached the server, then: {o.detail}" for o in reached if not o.ok]
    problems += [
        f"never reached the server, {signalled - o.started:.1f}s before SIGTERM: {o.detail}"
        for o in unreached
        if o.started < signalled - QUEUED_GRACE
    ]
    # A connection that hangs is no clean refusal, whenever it was made.
    problems += [
        f"hung: {o.detail}" for o in queued_before + knocked_after if "TimeoutError" in o.detail
    ]
    before = sum(1 for o in outcomes if o.ok and o.ended < signalled)
    if before < 10:
        problems.append(f"only {before} requests completed before SIGTERM: no real stream")
    summary = (
        f"stream of {STREAM_CLIENTS} clients, {len(outcomes)} requests: all {len(reached)} that "
        f"reached the server succeeded ({before} before SIGTERM, {len(in_flight)} in flight "
        f"when it was sent, {len(served_after)} sent after it); {len(unreached)} never reached "
        f"it (refused or reset in the accept queue as the listener closed): "
        f"{len(knocked_after)} sent after SIGTERM, {len(queued_before)} queued in the last "
        f"{QUEUED_GRACE:.0f}s before it"
    )
    if problems:
        raise CheckFailed(summary + "\n  FAILED: " + "\n  FAILED: ".join(problems[:10]))
    return summary


# --- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ready = commands.add_parser("ready")
    ready.add_argument("url")
    ready.add_argument("--timeout", type=float, default=READY_TIMEOUT)
    unready = commands.add_parser("unready")
    unready.add_argument("url")
    unready.add_argument("--timeout", type=float, default=READY_TIMEOUT)
    commands.add_parser("score").add_argument("url")
    drain_parser = commands.add_parser("drain")
    drain_parser.add_argument("url")
    drain_parser.add_argument("--pid", type=int, required=True, help="server pid (host view)")
    drain_parser.add_argument("--logs-cmd", required=True, help="prints the server's log")
    args = parser.parse_args(argv)
    try:
        if args.command == "ready":
            say(wait_ready(args.url, args.timeout))
        elif args.command == "unready":
            say(check_unready(args.url, args.timeout))
        elif args.command == "score":
            say(check_scoring(args.url))
        else:
            drain(args.url, args.pid, args.logs_cmd)
    except CheckFailed as exc:
        say(str(exc))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
