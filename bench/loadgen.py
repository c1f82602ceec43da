"""The click load generator: signed block_actions requests, one in flight per reviewer.

    python bench/loadgen.py job.json result.json

Runs in its own process (stdlib only, so it starts fast and shares nothing with the
emulator's threads) and talks to one server on 127.0.0.1. ``job.json``::

    {"url": "http://127.0.0.1:PORT/slack/events", "secret": "...",
     "reviewers": [[body, body, ...], ...],   # each body: the urlencoded payload Slack sends
     "max_seconds": 60, "timeout_s": 30,
     "interval_s": 6.0}                       # optional: a steady pace, see below

Protocol: prints ``ready`` once loaded, starts when a line arrives on stdin (so process
start-up is not measured), prints ``progress <done>`` twice a second and ``done`` at the
end. Each reviewer sends its clicks in order, the next only after the previous answer
(one click in flight per reviewer); no new click starts after ``max_seconds``. With
``interval_s``, each reviewer instead starts a click every ``interval_s`` (the reviewers
staggered evenly over one interval), or at once when the previous answer came later: a
steady rate that never catches up in a burst after a slow answer. Each
request is signed when it is sent (Slack's v0 HMAC-SHA256 over ``v0:<ts>:<body>``), on
a new connection (``Connection: close``), as a fresh delivery from Slack would be.

result.json: ``{"clicks": [[reviewer, index, sent, answered, status, error], ...],
"started": t, "finished": t, "cpu_s": …}``; times are ``time.monotonic()`` (CLOCK_MONOTONIC,
the same clock in every process on the machine); status 0 = connection error,
-1 = no answer within ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
from urllib.parse import urlsplit


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


async def post(host: str, port: int, path: str, secret: bytes, body: bytes) -> tuple[int, str]:
    timestamp = int(time.time())
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Slack-Request-Timestamp: {timestamp}\r\n"
        f"X-Slack-Signature: {sign(secret, timestamp, body)}\r\n"
        "User-Agent: Slackbot 1.0 (+https://api.slack.com/robots)\r\n"
        "Accept: */*\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head + body)
        await writer.drain()
        status_line = await reader.readline()
        parts = status_line.split()
        status = int(parts[1]) if len(parts) >= 2 else 0
        length = None
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length is not None:
            await reader.readexactly(length)
        else:
            await reader.read()
        return status, ""
    finally:
        writer.close()


async def run(job: dict) -> dict:
    url = urlsplit(job["url"])
    host, port, path = url.hostname or "127.0.0.1", url.port or 80, url.path or "/"
    secret = job["secret"].encode()
    timeout_s = float(job.get("timeout_s", 30))
    started = time.monotonic()
    stop_at = started + float(job.get("max_seconds", 60))
    interval = job.get("interval_s")
    count = max(1, len(job["reviewers"]))
    clicks: list[list] = []

    async def reviewer(r: int, bodies: list[str]) -> None:
        next_at = started + (r * float(interval) / count if interval else 0.0)
        for i, body in enumerate(bodies):
            if interval:
                if next_at >= stop_at:
                    return  # its next turn is past the end: do not wait for it
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() >= stop_at:
                return
            if interval:
                next_at = max(next_at, time.monotonic()) + float(interval)
            sent = time.monotonic()
            try:
                status, error = await asyncio.wait_for(
                    post(host, port, path, secret, body.encode()), timeout_s
                )
            except TimeoutError:
                status, error = -1, "timeout"
            except OSError as exc:
                status, error = 0, f"{type(exc).__name__}: {exc}"
            except asyncio.IncompleteReadError as exc:
                status, error = 0, f"incomplete read: {exc}"
            clicks.append([r, i, sent, time.monotonic(), status, error])

    async def progress() -> None:
        while True:
            print(f"progress {len(clicks)}", flush=True)
            await asyncio.sleep(0.5)

    ticker = asyncio.create_task(progress())
    await asyncio.gather(*(reviewer(r, bodies) for r, bodies in enumerate(job["reviewers"])))
    ticker.cancel()
    finished = time.monotonic()
    return {"clicks": clicks, "started": started, "finished": finished}


def main() -> int:
    job_path, result_path = sys.argv[1], sys.argv[2]
    with open(job_path) as handle:
        job = json.load(handle)
    print("ready", flush=True)
    sys.stdin.readline()
    cpu0 = time.process_time()
    result = asyncio.run(run(job))
    result["cpu_s"] = time.process_time() - cpu0
    with open(result_path, "w") as handle:
        json.dump(result, handle)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
