"""Two-factor sign-in on the web (docs/web.md#two-factor), on both engines: setting it up
from its own page (key as QR code and text, a code to confirm, ten recovery codes shown
once), signing in with a code or a recovery code (each once), a wrong code counted in the
sign-in rate limit, a stolen password alone reading nothing, the pending step expiring
and staying in its own browser, turning it off, and a deployment that requires it of
some roles (`create_app(..., require_two_factor=...)`, as `ledger serve
--require-two-factor` passes it). Codes are made with pyotp, as an authenticator app
makes them; the clock the codes are reckoned by is moved by the tests."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from unittest import mock

import pyotp
import pytest

from ledger.app import access, two_factor
from ledger.store import audit
from tests.web.conftest import MONTH, PASSWORD, Site, cheap_hasher, csrf_of

PAGE = f"/statements/holder/H1?month={MONTH}"
COUNCIL_PAGE = f"/council/WBC?month={MONTH}"
KEY = re.compile(r'<code class="key" id="key">([A-Z2-7 ]+)</code>')
RECOVERY = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")
_names = itertools.count(1)


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> Iterator[list[float]]:
    """The time codes are reckoned by (moved by the tests), and cheap Argon2."""
    now = [float(int(time.time()) // 30 * 30 + 1)]
    monkeypatch.setattr(two_factor, "seconds", lambda: now[0])
    monkeypatch.setattr(access, "_hasher", cheap_hasher)
    monkeypatch.setattr(two_factor, "_recovery_hasher", cheap_hasher)
    yield now


def code(key: str, at: float) -> str:
    return pyotp.TOTP(key).at(at)


def fresh_user(site, roles=("holder:H1",)) -> str:
    username = f"tf{next(_names)}-{site.url[:6].strip(':')}"
    access.add_sign_in(site.app.state.web.books, username, PASSWORD, list(roles))
    return username


def reads(client, path: str = PAGE) -> bool:
    return client.get(path).status_code == 200


def sent_to_login(client, path: str = PAGE) -> bool:
    answer = client.get(path)
    return answer.status_code == 303 and answer.headers["location"].startswith("/login")


def set_up(client, clock) -> tuple[str, list[str]]:
    """Turn two-factor on from its page: (the key, the recovery codes shown)."""
    form = client.get("/account/two-factor/setup")
    assert form.status_code == 200
    key = KEY.search(form.text).group(1).replace(" ", "")
    done = client.post("/account/two-factor/setup", data={
        "csrf_token": csrf_of(form.text), "code": code(key, clock[0])})
    assert done.status_code == 200, done.text
    codes = RECOVERY.findall(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    return key, codes


def password_step(site, client, username: str, next: str = "/"):
    answer = site.login(client, username, next=next)
    assert answer.status_code == 303, answer.text
    return answer


def code_step(client, value: str, field: str = "code"):
    form = client.get("/login/two-factor")
    assert form.status_code == 200, form.text
    return client.post("/login/two-factor", data={"csrf_token": csrf_of(form.text),
                                                  field: value})


def records(site, kinds, username=None) -> list[audit.AuditRecord]:
    books = site.app.state.web.books
    with books.read() as store:
        return [r for r in audit.records(store.conn, store.lid, kinds=kinds)
                if username is None or r.key == username]


def test_setting_it_up_shows_the_key_as_qr_and_text_and_ends_other_sessions(site, clock):
    username = fresh_user(site)
    client = site.sign_in(username)
    other = site.sign_in(username)  # signed in elsewhere too
    page = client.get("/account/two-factor")
    assert page.status_code == 200 and "Two-factor sign-in is off" in page.text
    form = client.get("/account/two-factor/setup")
    assert 'src="data:image/svg+xml' in form.text  # the QR code, made here
    key = KEY.search(form.text).group(1).replace(" ", "")
    assert len(key) == 32
    assert 'autocomplete="one-time-code"' in form.text and 'inputmode="numeric"' in form.text
    # The same key until it is confirmed, so the QR code scanned stays the right one.
    assert KEY.search(client.get("/account/two-factor/setup").text).group(1).replace(
        " ", "") == key

    wrong = client.post("/account/two-factor/setup", data={
        "csrf_token": csrf_of(form.text), "code": "000000" if code(key, clock[0]) != "000000"
        else "111111"})
    assert wrong.status_code == 401 and 'role="alert"' in wrong.text
    assert "not right" in wrong.text
    assert not records(site, [two_factor.TWO_FACTOR_SET], username)

    done = client.post("/account/two-factor/setup", data={
        "csrf_token": csrf_of(form.text), "code": code(key, clock[0])})
    assert done.status_code == 200
    codes = RECOVERY.findall(done.text)
    assert len(codes) == 10
    assert "only time they are shown" in done.text
    # Kept as a record: the key, and the recovery codes only as Argon2id hashes.
    (made,) = records(site, [two_factor.TWO_FACTOR_SET], username)
    assert made.body["secret"] == key
    assert all(h.startswith("$argon2id$") for h in made.body["recovery"])
    assert not any(c.replace("-", "") in str(made.body) for c in codes)
    # The browser that did it reads on; every other session has ended.
    assert reads(client)
    assert sent_to_login(other)
    assert "Two-factor sign-in is on" in client.get("/account/two-factor").text
    assert "10 recovery codes left" in client.get("/account/two-factor").text


def test_signing_in_needs_the_code_after_the_password(site, clock):
    username = fresh_user(site)
    key, _ = set_up(site.sign_in(username), clock)
    clock[0] += 30
    client = site.client()
    answer = password_step(site, client, username, next=PAGE)
    assert answer.headers["location"] == "/login/two-factor"
    assert sent_to_login(client)  # the pending step reads nothing
    page = client.get("/login/two-factor")
    assert page.status_code == 200 and "Enter your code" in page.text
    done = code_step(client, code(key, clock[0]))
    assert done.status_code == 303 and done.headers["location"] == PAGE
    assert reads(client)
    assert records(site, [two_factor.CODE_USED], username)


def test_a_stolen_password_alone_reads_nothing(site, clock):
    username = fresh_user(site, roles=("holder:H1", "pool:OUTABOUT"))
    set_up(site.sign_in(username), clock)
    started = len(records(site, [audit.SESSION_STARTED]))
    thief = site.client()
    assert password_step(site, thief, username).headers["location"] == "/login/two-factor"
    for path in [PAGE, "/", f"/statements/pool/OUTABOUT?month={MONTH}", "/invite",
                 "/account/two-factor", "/account/two-factor/setup"]:
        assert sent_to_login(thief, path), path
    guessed = code_step(thief, "123456")
    assert guessed.status_code == 401
    assert len(records(site, [audit.SESSION_STARTED])) == started  # no session was started
    assert sent_to_login(thief)


def test_a_code_works_once(site, clock):
    username = fresh_user(site)
    key, _ = set_up(site.sign_in(username), clock)
    # The code that turned it on cannot sign in, nor can one code sign in twice.
    first = site.client()
    password_step(site, first, username)
    assert code_step(first, code(key, clock[0])).status_code == 401
    clock[0] += 30
    assert code_step(first, code(key, clock[0])).status_code == 303
    second = site.client()
    password_step(site, second, username)
    assert code_step(second, code(key, clock[0])).status_code == 401
    # A phone's clock a step out either way still works.
    clock[0] += 60
    assert code_step(second, code(key, clock[0] - 30)).status_code == 303


def test_a_recovery_code_signs_in_once(site, clock):
    username = fresh_user(site)
    owner = site.sign_in(username)
    _, codes = set_up(owner, clock)
    client = site.client()
    password_step(site, client, username)
    done = code_step(client, codes[3].upper().replace("-", " "), field="recovery_code")
    assert done.status_code == 303
    assert reads(client)
    (used,) = records(site, [two_factor.RECOVERY_CODE_USED], username)
    assert used.body == {"index": 3, "left": 9}
    again = site.client()
    password_step(site, again, username)
    refused = code_step(again, codes[3], field="recovery_code")
    assert refused.status_code == 401 and "has been used" in refused.text
    assert sent_to_login(again)
    assert code_step(again, codes[4], field="recovery_code").status_code == 303
    assert "8 recovery codes left" in owner.get("/account/two-factor").text


def test_wrong_codes_count_in_the_sign_in_rate_limit(site, clock):
    username = fresh_user(site)
    key, _ = set_up(site.sign_in(username), clock)
    clock[0] += 30
    # Two wrong passwords and three wrong codes: five failures for the username.
    for _ in range(2):
        assert site.login(site.client(), username, "not the password").status_code == 401
    attacker = site.client()
    password_step(site, attacker, username)
    for _ in range(3):
        assert code_step(attacker, "999999" if code(key, clock[0]) != "999999"
                         else "888888").status_code == 401
    # Now even the right code and the right password are refused until the window passes.
    blocked = code_step(attacker, code(key, clock[0]))
    assert blocked.status_code == 429 and "Too many attempts" in blocked.text
    assert site.login(site.client(), username).status_code == 429
    assert sent_to_login(attacker)


def test_wrong_recovery_codes_count_too(site, clock):
    username = fresh_user(site)
    set_up(site.sign_in(username), clock)
    attacker = site.client()
    password_step(site, attacker, username)
    for _ in range(5):
        assert code_step(attacker, "aaaaa-bbbbb", field="recovery_code").status_code == 401
    assert code_step(attacker, "aaaaa-bbbbb", field="recovery_code").status_code == 429
    assert site.login(site.client(), username).status_code == 429


def test_a_right_password_does_not_reset_the_count_of_wrong_codes(site, clock):
    username = fresh_user(site)
    key, _ = set_up(site.sign_in(username), clock)
    attacker = site.client()
    for _ in range(5):  # the password each time, then a wrong code
        password_step(site, attacker, username)
        assert code_step(attacker, "000001" if code(key, clock[0]) != "000001"
                         else "000002").status_code == 401
    assert site.login(site.client(), username).status_code == 429


def test_the_pending_step_expires_after_five_minutes(site, clock):
    username = fresh_user(site)
    key, _ = set_up(site.sign_in(username), clock)
    client = site.client()
    password_step(site, client, username)
    clock[0] += 5 * 60 + 1
    late = client.get("/login/two-factor")
    assert late.status_code == 400 and "took too long" in late.text
    csrf = csrf_of(client.get("/login").text)
    answer = client.post("/login/two-factor", data={"csrf_token": csrf,
                                                    "code": code(key, clock[0])})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert sent_to_login(client)


def test_the_pending_step_stays_in_its_own_browser(site, clock):
    username = fresh_user(site)
    key, _ = set_up(site.sign_in(username), clock)
    clock[0] += 30
    client = site.client()
    password_step(site, client, username)
    other = site.client()  # another browser, with only a code
    csrf = csrf_of(other.get("/login").text)
    answer = other.post("/login/two-factor", data={"csrf_token": csrf,
                                                   "code": code(key, clock[0])})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert sent_to_login(other)
    assert other.get("/login/two-factor").headers["location"] == "/login"


def test_a_new_password_voids_a_pending_step(site, clock):
    username = fresh_user(site)
    key, _ = set_up(site.sign_in(username), clock)
    clock[0] += 30
    client = site.client()
    password_step(site, client, username)
    csrf = csrf_of(client.get("/login/two-factor").text)
    access.set_password(site.app.state.web.books, username, "a brand new passphrase")
    late = client.post("/login/two-factor", data={"csrf_token": csrf,
                                                  "code": code(key, clock[0])})
    assert late.status_code == 400 and "took too long" in late.text
    assert sent_to_login(client)


def test_turning_it_off_needs_a_code_and_ends_other_sessions(site, clock):
    username = fresh_user(site)
    owner = site.sign_in(username)
    key, _ = set_up(owner, clock)
    clock[0] += 30
    other = site.client()
    password_step(site, other, username)
    assert code_step(other, code(key, clock[0])).status_code == 303
    page = owner.get("/account/two-factor")
    wrong = owner.post("/account/two-factor/off", data={"csrf_token": csrf_of(page.text),
                                                        "code": "12345"})
    assert wrong.status_code == 401 and 'role="alert"' in wrong.text
    clock[0] += 30
    done = owner.post("/account/two-factor/off", data={"csrf_token": csrf_of(page.text),
                                                       "code": code(key, clock[0])})
    assert done.status_code == 200 and "now off" in done.text
    assert records(site, [two_factor.TWO_FACTOR_REMOVED], username)
    assert reads(owner) and sent_to_login(other)
    # The password alone signs in again.
    assert password_step(site, site.client(), username).headers["location"] == "/"


def test_without_two_factor_signing_in_is_as_before(site):
    client = site.client()
    answer = site.login(client, "ann", next=PAGE)
    assert answer.status_code == 303 and answer.headers["location"] == PAGE
    assert reads(client)


def test_the_audit_chain_holds_after_it_all(site, clock):
    username = fresh_user(site)
    owner = site.sign_in(username)
    _, codes = set_up(owner, clock)
    client = site.client()
    password_step(site, client, username)
    code_step(client, codes[0], field="recovery_code")
    books = site.app.state.web.books
    with books.read() as store:
        assert audit.verify_chain(store.conn, store.lid) == []


# ---------------------------------------------------------------- required of some roles


class StrictSite(Site):
    """The shared ledger served with two-factor required of councils, providers and
    auditors, as `ledger serve --require-two-factor council provider auditor` does."""

    def __init__(self, url: str) -> None:
        from ledger.web.app import create_app

        self.url = url
        self.app = create_app(url, require_two_factor=("council", "provider", "auditor"))
        self._signed_in = {}
        self._clients = []


@pytest.fixture
def strict(web_db) -> Iterator[StrictSite]:
    made = StrictSite(web_db)
    yield made
    made.close()


def test_a_required_role_must_set_it_up_before_reading_anything(strict, clock):
    username = fresh_user(strict, roles=("council:WBC",))
    client = strict.client()
    answer = password_step(strict, client, username, next=COUNCIL_PAGE)
    assert answer.headers["location"] == "/account/two-factor/setup"
    for path in [COUNCIL_PAGE, "/", "/invite", "/account/two-factor"]:
        assert sent_to_login(client, path), path  # no session: nothing to read
    form = client.get("/account/two-factor/setup")
    assert form.status_code == 200 and "Your role needs two-factor sign-in" in form.text
    key = KEY.search(form.text).group(1).replace(" ", "")
    wrong = client.post("/account/two-factor/setup", data={"csrf_token": csrf_of(form.text),
                                                           "code": "abc"})
    assert wrong.status_code == 401
    done = client.post("/account/two-factor/setup", data={"csrf_token": csrf_of(form.text),
                                                          "code": code(key, clock[0])})
    assert done.status_code == 200 and len(RECOVERY.findall(done.text)) == 10
    assert f'href="{COUNCIL_PAGE.replace("?", "?")}"' in done.text.replace("&amp;", "&")
    assert reads(client, COUNCIL_PAGE)
    # From now on, password then code.
    clock[0] += 30
    later = strict.client()
    assert password_step(strict, later, username).headers["location"] == "/login/two-factor"
    assert code_step(later, code(key, clock[0])).status_code == 303
    assert reads(later, COUNCIL_PAGE)
    # A required role may set up a new phone but not turn it off.
    page = later.get("/account/two-factor")
    assert "cannot be turned off" in page.text
    refused = later.post("/account/two-factor/off", data={"csrf_token": csrf_of(page.text),
                                                          "code": code(key, clock[0])})
    assert refused.status_code == 400
    assert not records(strict, [two_factor.TWO_FACTOR_REMOVED], username)


def test_the_enrolment_step_expires_and_grants_nothing(strict, clock):
    username = fresh_user(strict, roles=("provider:SH",))
    client = strict.client()
    password_step(strict, client, username)
    clock[0] += 15 * 60 + 1
    late = client.get("/account/two-factor/setup")
    assert late.status_code == 400 and "took too long" in late.text
    assert sent_to_login(client, f"/provider/SH/month-end?month={MONTH}")


def test_a_session_from_before_the_requirement_is_sent_to_set_it_up(site, strict, clock):
    username = fresh_user(site, roles=("auditor",))
    client = site.sign_in(username)  # signed in while two-factor was not required
    assert reads(client)
    before = strict.client()
    before.cookies.set("ledger_session", client.cookies["ledger_session"])
    for path in [PAGE, "/", "/invite", f"/statements/holder/H2?month={MONTH}&format=pdf"]:
        answer = before.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/account/two-factor/setup", path
    set_up(before, clock)
    assert reads(before)


def test_someone_invited_with_a_required_role_sets_it_up_before_reading(strict, clock):
    token = access.invite(strict.app.state.web.books, ["council:WBC"])
    client = strict.client()
    form = client.get(f"/invite/{token}")
    username = f"tfinv{next(_names)}-{strict.url[:6].strip(':')}"
    made = client.post(f"/invite/{token}", data={
        "csrf_token": csrf_of(form.text), "username": username, "password": PASSWORD,
        "password_again": PASSWORD})
    assert made.status_code == 303, made.text
    for path in [made.headers["location"], COUNCIL_PAGE]:
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/account/two-factor/setup", path
    set_up(client, clock)
    assert reads(client, COUNCIL_PAGE)


def test_roles_not_required_sign_in_as_before(strict):
    client = strict.client()
    answer = strict.login(client, "ann", next=PAGE)
    assert answer.status_code == 303 and answer.headers["location"] == PAGE
    assert reads(client)


def test_the_app_takes_the_requirement_from_the_environment(web_db, monkeypatch):
    from ledger.web.app import create_app_from_env

    monkeypatch.setenv("LEDGER_DATABASE_URL", web_db)
    monkeypatch.setenv("LEDGER_REQUIRE_TWO_FACTOR", "council auditor")
    app = create_app_from_env()
    try:
        assert app.state.two_factor_require == {"council", "auditor"}
    finally:
        app.state.web.books.dispose()


def test_an_unknown_role_kind_is_refused(web_db):
    from ledger.errors import UsageError
    from ledger.web.app import create_app

    with mock.patch.object(access, "session_key", lambda books: "k" * 64), \
            pytest.raises(UsageError, match="give a kind of role"):
        create_app(web_db, require_two_factor=("council:WBC",))
