"""The web view's group commit of the access log (src/ledger/app/read_log.py): the reads
of requests that arrive while another request's are being written are written together,
in one transaction; each request returns only when its own reads are committed; every
read is in the audit chain, which stays intact; and a batch that cannot be written
fails for each request in it as its own write would have. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from unittest import mock

import pytest

from ledger.app import access_log
from ledger.app.access_log import NotRecorded, Read, Who
from ledger.app.read_log import ReadLog
from ledger.app.reading import Books
from ledger.store import audit
from ledger.store.repo import DbStore

READ = Read("holder", "H1", "holder:H1", dt.date(2026, 5, 1), dt.date(2026, 5, 31), "html",
            "standard")


@pytest.fixture
def books(engine, db_url):
    with engine.begin() as conn:
        DbStore(conn, "main").lock_for_write()  # the ledger's row
    made = Books(db_url, "main", mode="serve")
    yield made
    made.dispose()


def reads_in_chain(books) -> list[str]:
    with books.read() as store:
        assert audit.verify_chain(store.conn, store.lid) == []
        return [r.body["reader"] for r in audit.records(store.conn, store.lid,
                                                        kinds=[audit.READ])]


def held_first_batch(log: ReadLog, others: int):
    """write_reads, the first call held until `others` requests are queued behind it."""
    real = access_log.write_reads
    calls: list[int] = []

    def write(books, reads):
        calls.append(len(reads))
        if len(calls) == 1:
            deadline = time.monotonic() + 60
            while len(log._queue) < others and time.monotonic() < deadline:
                time.sleep(0.01)
        return real(books, reads)

    return calls, write


def test_reads_queued_behind_a_write_are_written_together_and_each_is_recorded(books):
    log = ReadLog()
    n = 8
    calls, write = held_first_batch(log, n - 1)
    answers: dict[str, bool] = {}

    def read(i: int) -> None:
        answers[f"r{i}"] = log.record(books, Who("web", f"r{i}", address="10.0.0.0/24"),
                                      [READ])

    with mock.patch.object(access_log, "write_reads", write):
        first = threading.Thread(target=read, args=(0,))
        first.start()
        while not calls:  # the first request is writing
            time.sleep(0.01)
        rest = [threading.Thread(target=read, args=(i,)) for i in range(1, n)]
        for t in rest:
            t.start()
        for t in [first, *rest]:
            t.join(60)
    assert answers == {f"r{i}": True for i in range(n)}
    assert calls == [1, n - 1]  # the first alone, then everyone who queued, in one
    assert (log.batches, log.written) == (2, n)
    assert sorted(reads_in_chain(books)) == sorted(answers)


def test_a_batch_that_cannot_be_written_fails_for_each_request_in_it(books):
    log = ReadLog()
    calls, write = held_first_batch(log, 2)
    answers: dict[str, object] = {}

    def read(name: str, strict: bool) -> None:
        try:
            answers[name] = log.record(books, Who("web", name, strict=strict), [READ])
        except NotRecorded as err:
            answers[name] = type(err).__name__

    def failing(books_, reads):
        write(books_, [])  # hold the first batch as above, writing nothing
        if len(calls) > 1:
            raise OSError("disk full")

    with mock.patch.object(access_log, "write_reads", failing):
        first = threading.Thread(target=read, args=("alone", True))
        first.start()
        while not calls:
            time.sleep(0.01)
        rest = [threading.Thread(target=read, args=(name, strict))
                for name, strict in (("web", True), ("cli", False))]
        for t in rest:
            t.start()
        for t in [first, *rest]:
            t.join(60)
    # The first batch went through (it wrote nothing here); the second failed: the strict
    # reader is refused (the page answers "not found"), the other told it was not logged.
    assert answers == {"alone": True, "web": "NotRecorded", "cli": False}
    assert reads_in_chain(books) == []
    assert log.record(books, Who("web", "after"), [READ]) is True  # the log goes on
    assert reads_in_chain(books) == ["after"]
