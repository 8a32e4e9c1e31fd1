"""The sign-in rate limit holds for attempts made at the same moment (docs/web.md#rate-limit).

A guesser does not wait for one answer before sending the next: they send many at once,
to several server workers. Each attempt must be counted before the next one is checked,
or a burst of sixteen wrong passwords gets sixteen passwords checked against a limit of
five. Tried on PostgreSQL before the counters were locked: fifteen of sixteen were
checked. The same for the address's limit and for accepting invitations.
"""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

from ledger.app import access
from ledger.app.reading import Books
from ledger.errors import UsageError

PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.citus  # on the cluster too: its locks are the coordinator's


def _at_once(count: int, attempt) -> list[str]:
    """`attempt(i)` for i in range(count), each in its own thread, all let go together."""
    gate = threading.Barrier(count)

    def one(i: int) -> str:
        gate.wait()
        return attempt(i)

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


@pytest.fixture
def books(db_url):
    made = Books.at(db_url, "main", "write")
    access.add_sign_in(made, "alice", PASSWORD, ["auditor"])
    made.dispose()
    served = Books.at(db_url, "main", "serve")  # as `ledger serve`'s requests open it
    yield served
    served.dispose()


def _sign_in(books, username: str, address: str) -> str:
    try:
        user = access.sign_in(books, username, "not the password", address)
    except access.TooManyAttempts:
        return "refused"
    assert user is None
    return "checked"


def test_a_burst_of_wrong_passwords_for_one_username_checks_at_most_five(books):
    outcomes = _at_once(16, lambda i: _sign_in(books, "alice", f"10.0.0.{i + 1}"))
    assert outcomes.count("checked") == access.MAX_FAILURES_PER_USER
    # and the limit now refuses the right password too
    with pytest.raises(access.TooManyAttempts):
        access.sign_in(books, "alice", PASSWORD, "10.0.1.1")


def test_a_burst_from_one_address_checks_at_most_twenty(books):
    outcomes = _at_once(30, lambda i: _sign_in(books, f"user{i}", "192.0.2.7"))
    assert outcomes.count("checked") == access.MAX_FAILURES_PER_ADDRESS


def test_a_burst_of_invitation_guesses_from_one_address_checks_at_most_twenty(books):
    def guess(i: int) -> str:
        try:
            access.accept_invitation(books, f"guessed-token-{i}", f"user{i}", PASSWORD,
                                     address="198.51.100.9")
        except access.TooManyAttempts:
            return "refused"
        except UsageError as err:
            assert str(err) == access.INVALID_INVITE
            return "checked"
        raise AssertionError("a guessed invitation was accepted")

    outcomes = _at_once(30, guess)
    assert outcomes.count("checked") == access.MAX_FAILURES_PER_ADDRESS
