"""Limits that keep one visitor from slowing everyone else (docs/web.md#limits).

- `BodyLimit`: no request body over MAX_BODY bytes (the only forms are sign-in,
  invitations and sign-out, each well under 1 KiB). A body declared larger in
  `Content-Length` is answered 413 at once, without reading it; a body sent without a
  length (chunked) is counted as it arrives and refused 413 as soon as it passes the
  limit. `multipart/form-data` is refused (415) before a byte of it is read: no page
  takes a file, so nothing is ever spooled to disk.
- `off_loop`: password hashing (Argon2id, about 0.4 s of CPU and 64 MiB a hash) runs in
  a small pool of its own threads, never on the event loop, so a flood of sign-ins queues
  behind itself while pages keep being answered. HASHING_THREADS hashes at most at once
  in a process: one on a machine of one or two CPUs, else half its CPUs, at most four.
  On Linux those threads also run at a lower CPU priority (nice +10, each thread its
  own), so when the CPUs are all busy, pages come first and sign-ins wait.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from ledger.web.pages import SECURITY_HEADERS

MAX_BODY = 64 * 1024  # bytes
HASHING_THREADS = max(1, min(4, (os.cpu_count() or 1) // 2))
HASHING_NICE = 10  # added to the process's nice value, for the hashing threads only

_pool: ThreadPoolExecutor | None = None


async def off_loop(fn, *args, **kwargs):
    """`fn(*args, **kwargs)` in the hashing pool; the event loop answers others meanwhile.
    (A pool of plain threads, not the loop's own: it serves every event loop of the
    process, as a test client's, alike.)"""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(HASHING_THREADS, thread_name_prefix="ledger-hashing",
                                   initializer=_lower_priority)
    return await asyncio.get_running_loop().run_in_executor(_pool, partial(fn, *args,
                                                                           **kwargs))


def _lower_priority() -> None:
    """This thread (on Linux a thread has a nice value of its own) yields the CPU to the
    threads answering pages. Elsewhere, or if not allowed, it runs as it is."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid,
                       min(19, os.getpriority(os.PRIO_PROCESS, tid) + HASHING_NICE))
    except (AttributeError, OSError):
        pass


class TooLarge(Exception):
    """A body without a length went past MAX_BODY while it was being read."""


class BodyLimit:
    """ASGI middleware: 413 for a body over `limit` bytes, 415 for a multipart one."""

    def __init__(self, app, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind.startswith(b"multipart/"):
            await _refuse(send, 415, "No page here takes a file upload.")
            return
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0:
                await _refuse(send, 400, "The request's Content-Length is not a number.")
                return
            if declared > self.limit:
                await _refuse(send, 413, "What was sent is too large.")
                return
        seen = 0
        started = False

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise TooLarge
            return message

        async def sending(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except* TooLarge:  # (a middleware's task group may wrap it in a group)
            if not started:
                await _refuse(send, 413, "What was sent is too large.")


async def _refuse(send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
    headers += [(b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
