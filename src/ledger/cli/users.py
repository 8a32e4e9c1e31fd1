"""`ledger user` (sign-ins) and `ledger serve` (the web view)."""

from __future__ import annotations

import datetime as dt
import sys
from urllib.parse import urlsplit

import click

from ledger.app import access, two_factor
from ledger.app.reading import Books
from ledger.cli.common import db_option
from ledger.errors import UsageError

DEFAULT_BASE_URL = "http://127.0.0.1:8000"  # where `ledger serve` listens by default


@click.group()
def user() -> None:
    """Sign-ins for the web view (docs/web.md#sign-in)."""


@user.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, metavar="ROLE",
              help="holder:H, pool:L, provider:P, council:C or auditor; repeat for more.")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line); "
                   "at a terminal, asked for twice and not shown.")
@db_option
def user_add(username: str, roles: tuple[str, ...], password_stdin: bool,
             db_url: str | None, ledger: str) -> None:
    """Make a sign-in USERNAME with its roles; the password is read from stdin."""
    password = _password()
    access.add_sign_in(Books.at(db_url, ledger, mode="write"), username, password, list(roles))
    click.echo(f"added {username}: {', '.join(sorted(set(roles)))}")


def _minute(at) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


@user.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@db_option
def user_list(fmt: str, db_url: str | None, ledger: str) -> None:
    """Every sign-in: id, username, roles, when it was made (UTC) and its open sessions."""
    found = access.sign_ins(Books.at(db_url, ledger))
    if fmt == "json":
        import json

        click.echo(json.dumps([{"id": s.id, "username": s.username, "roles": list(s.roles),
                                "created": s.created.isoformat(timespec="seconds"),
                                "open_sessions": n} for s, n in found], indent=2))
        return
    from ledger.reports.render import plain_table

    plain_table("Sign-ins", ("id", "username", "roles", "created (UTC)", "open sessions"),
                ((s.id, s.username, " ".join(s.roles), _minute(s.created), n)
                 for s, n in found), right=("id", "open sessions"))


@user.command("readers")
@click.option("--holder", required=True, metavar="H", help="The person.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@db_option
def user_readers(holder: str, fmt: str, db_url: str | None, ledger: str) -> None:
    """Who may read H's records today: each sign-in, the statements holding something
    of H's that it may read, and for which days (docs/web.md#who-may-read). What they
    have read: `ledger access-log --holder H`."""
    from ledger.app.who_reads import invitations_reaching, readers_of, span_text

    found = readers_of(Books.at(db_url, ledger), holder)
    if fmt == "json":
        import json

        click.echo(json.dumps([{
            "user_id": r.user_id, "username": r.username, "roles": list(r.roles),
            "open_sessions": r.open_sessions, "kind": r.kind, "id": r.ident,
            "days": [{"from": None if a == dt.date.min else a.isoformat(),
                      "to": None if b == dt.date.max else b.isoformat()}
                     for a, b in r.spans]} for r in found], indent=2))
        return
    from ledger.reports.render import plain_table

    plain_table(f"Who may read {holder}'s records",
                ("id", "username", "statement", "days"),  # roles, sessions: `user list`
                ((r.user_id, r.username, f"{r.kind} {r.ident}",
                  "; ".join(span_text(s) for s in r.spans)) for r in found), right=("id",))
    waiting = invitations_reaching(Books.at(db_url, ledger), holder)
    if waiting:
        plain_table(f"Invitations not yet used that would reach {holder}'s records "
                    "(withdraw one: ledger user invitations --withdraw N)",
                    ("number", "roles", "made by", "statements", "expires (UTC)"),
                    ((i.number, " ".join(i.roles), i.by, "; ".join(reached),
                      _minute(i.expires)) for i, reached in waiting), right=("number",))


def _ended(count: int) -> str:
    return f"{count} session{'' if count == 1 else 's'} ended"


@user.command("remove")
@click.argument("username")
@db_option
def user_remove(username: str, db_url: str | None, ledger: str) -> None:
    """Remove USERNAME: its sessions end at once; its id is never given again."""
    ended = access.remove_sign_in(Books.at(db_url, ledger, mode="write"), username)
    click.echo(f"removed {username}; {_ended(ended)}")


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the new password from standard input (never from the command "
                   "line); at a terminal, asked for twice and not shown.")
@db_option
def user_passwd(username: str, password_stdin: bool, db_url: str | None,
                ledger: str) -> None:
    """Set USERNAME's password; every session it has ends at once."""
    books = Books.at(db_url, ledger, mode="write")
    access.sign_in_named(books, username)  # an unknown user is one line, before asking
    ended = access.set_password(books, username, _password())
    click.echo(f"password set for {username}; {_ended(ended)}")


@user.command("roles")
@click.argument("username")
@click.option("--add", "add", multiple=True, metavar="ROLE", help="A role to give; repeatable.")
@click.option("--remove", "remove", multiple=True, metavar="ROLE",
              help="A role to take away; repeatable.")
@db_option
def user_roles(username: str, add: tuple[str, ...], remove: tuple[str, ...],
               db_url: str | None, ledger: str) -> None:
    """Change USERNAME's roles (a new record); every session it has ends at once."""
    roles, ended = access.set_roles(Books.at(db_url, ledger, mode="write"), username,
                                    list(add), list(remove))
    click.echo(f"{username}: {', '.join(roles)}; {_ended(ended)}")


@user.command("sessions")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="End every open session at once.")
@db_option
def user_sessions(username: str, revoke: bool, db_url: str | None, ledger: str) -> None:
    """List USERNAME's open sessions (when each started and ends, UTC); with --revoke,
    end them all at once."""
    found = access.sessions(Books.at(db_url, ledger, mode="write" if revoke else "read"),
                            username, revoke=revoke)
    for session in found:
        click.echo(f"{session.key[:12]}  started {_minute(session.started)}  "
                   f"ends {_minute(session.expires)}")
    if revoke:
        click.echo(f"{username}: {_ended(len(found))}")
    elif not found:
        click.echo(f"{username} has no open session")


@user.command("two-factor")
@click.argument("username")
@click.option("--off", is_flag=True,
              help="Turn it off (for someone who lost their phone and recovery codes); "
                   "every session of the sign-in ends at once.")
@db_option
def user_two_factor(username: str, off: bool, db_url: str | None, ledger: str) -> None:
    """Say whether USERNAME has two-factor sign-in on; with --off, turn it off
    (docs/web.md#two-factor)."""
    books = Books.at(db_url, ledger, mode="write" if off else "read")
    if off:
        ended = two_factor.reset(books, username)
        click.echo(f"two-factor sign-in turned off for {username}; {_ended(ended)}")
        return
    found = two_factor.status(books, username)
    if found.on:
        click.echo(f"{username}: two-factor sign-in on since {_minute(found.since)} UTC; "
                   f"{found.recovery_left} recovery codes left")
    else:
        click.echo(f"{username}: two-factor sign-in off")


def _password() -> str:
    """The first line of standard input; at a terminal, typed twice without being shown
    (so it is in neither the command line, the shell's history nor the screen)."""
    if sys.stdin.isatty():
        return click.prompt("Password (not shown)", hide_input=True,
                            confirmation_prompt="Password again", err=True)
    return sys.stdin.readline().rstrip("\r\n")


@user.command("invite")
@click.option("--role", "roles", multiple=True, required=True, metavar="ROLE",
              help="What the invited person may read; repeat for more.")
@click.option("--base-url", envvar="LEDGER_BASE_URL", metavar="URL",
              help=f"The address people open the web view at, for the link [default: "
                   f"$LEDGER_BASE_URL, else {DEFAULT_BASE_URL}, where `ledger serve` "
                   f"listens by default].")
@db_option
def user_invite(roles: tuple[str, ...], base_url: str | None, db_url: str | None,
                ledger: str) -> None:
    """Print a one-time invitation link (valid 14 days) for a new sign-in."""
    base = invite_base(base_url)
    token = access.invite(Books.at(db_url, ledger, mode="write"), list(roles))
    click.echo(f"{base}/invite/{token}")
    if base_url is None:
        click.echo(f"note: this link is for {DEFAULT_BASE_URL}, this machine only; to send it "
                   "to someone, give --base-url with the address they open", err=True)


@user.command("invitations")
@click.option("--holder", metavar="H",
              help="Only the links that would reach something of H's, with what.")
@click.option("--withdraw", type=int, metavar="N",
              help="Withdraw open invitation N: its link makes nothing from now on.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@db_option
def user_invitations(holder: str | None, withdraw: int | None, fmt: str,
                     db_url: str | None, ledger: str) -> None:
    """Open invitations: each link not used, withdrawn or out of date that would make a
    sign-in today, with its number, when and by whom it was made, its roles and when it
    runs out (UTC); with --holder H, only those reaching H's records. With --withdraw N,
    withdraw one (docs/web.md#invitations)."""
    if withdraw is not None:
        if holder is not None:
            raise click.UsageError("--withdraw takes no --holder: it names one invitation")
        gone = access.withdraw_invitation(Books.at(db_url, ledger, mode="write"), withdraw)
        click.echo(f"withdrew invitation {gone.number} ({' '.join(gone.roles)}, made by "
                   f"{gone.by}); its link makes nothing now")
        return
    books = Books.at(db_url, ledger)
    found: list[tuple[access.Invitation, tuple[str, ...] | None]]
    if holder is None:
        found = [(i, None) for i in access.open_invitations(books)]
    else:
        from ledger.app.who_reads import invitations_reaching

        found = list(invitations_reaching(books, holder))
    if fmt == "json":
        import json

        click.echo(json.dumps([{"number": i.number, "made": i.made.isoformat(timespec="seconds"),
                                "by": i.by, "roles": list(i.roles),
                                "expires": i.expires.isoformat(timespec="seconds"),
                                **({} if reached is None else {"statements": list(reached)})}
                               for i, reached in found], indent=2))
        return
    from ledger.reports.render import plain_table

    heading = "Open invitations" + (f" that would reach {holder}'s records" if holder else "")
    columns = ("number", "made (UTC)", "by", "roles", "expires (UTC)")
    plain_table(heading, columns + (("statements",) if holder else ()),
                ((i.number, _minute(i.made), i.by, " ".join(i.roles), _minute(i.expires),
                  *(() if reached is None else ("; ".join(reached),)))
                 for i, reached in found), right=("number",))


def invite_base(base_url: str | None) -> str:
    """The link's start: an http(s) address with a host, no query or fragment (docs/web.md
    #invitations), without its trailing /."""
    if base_url is None:
        return DEFAULT_BASE_URL
    parts = urlsplit(base_url.strip())
    try:
        parts.port  # noqa: B018 (a port above 65535 raises)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok or parts.query or parts.fragment:
        raise UsageError(f"--base-url {base_url!r}: not an address people can open; give "
                         "the web view's address, e.g. https://statements.example.org")
    return parts.geturl().rstrip("/")


class _ServeCommand(click.Command):
    """`--require-two-factor council provider auditor`: the kinds may follow the option
    one after another (serve takes no arguments), as well as each after its own option."""

    def parse_args(self, ctx, args):
        spread, after = [], None  # after: the args since --require-two-factor
        for arg in args:
            if arg.startswith("-"):
                after = 0 if arg == "--require-two-factor" else None
            elif after is not None:
                if after:
                    spread.append("--require-two-factor")
                after += 1
            spread.append(arg)
        return super().parse_args(ctx, spread)


@click.command(cls=_ServeCommand)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (localhost only by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (several need a PostgreSQL database).")
@click.option("--https-only", is_flag=True,
              help="Send the session cookie over HTTPS only (behind a TLS proxy).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDR|CIDR",
              help="A reverse proxy whose X-Forwarded-For (and -Proto) is believed; "
                   "repeatable. From any other peer the header is ignored.")
@click.option("--require-two-factor", "require_two_factor", multiple=True,
              metavar="ROLE...", help="Require two-factor sign-in of every sign-in with a "
              "role of these kinds: council, provider, auditor, holder, pool "
              "(docs/web.md#two-factor).")
@db_option
def serve(host: str, port: int, workers: int, https_only: bool,
          trusted_proxies: tuple[str, ...], require_two_factor: tuple[str, ...],
          db_url: str | None, ledger: str) -> None:
    """Serve the ledger's statements, read-only, behind a sign-in (docs/web.md)."""
    import os

    import uvicorn

    from ledger.web.addresses import ENVIRONMENT, trusted_networks
    from ledger.web.app import create_app

    proxies = tuple(str(n) for n in trusted_networks(trusted_proxies))  # a bad one: exit 2
    require = tuple(sorted(two_factor.check_kinds(require_two_factor)))  # likewise

    books = Books.at(db_url, ledger, mode="write")
    url = books.url
    books.check()  # creates or upgrades the schema once, before any worker
    books.dispose()
    if workers > 1 and url.startswith("sqlite"):
        raise UsageError("--workers above 1 needs a PostgreSQL database")
    sock = _listen(host, port)
    if workers > 1:
        os.environ.update(LEDGER_DATABASE_URL=url, LEDGER_NAME=ledger,
                          LEDGER_HTTPS_ONLY="1" if https_only else "0",
                          **{ENVIRONMENT: " ".join(proxies)},
                          LEDGER_REQUIRE_TWO_FACTOR=" ".join(require))
        create_app(url, ledger, https_only)  # makes the session key once, before the workers
        _started(host, port)
        _serve_workers(sock, host, port, workers)
        return
    # proxy_headers=False: the app alone decides whom to believe (web/addresses.py).
    server = uvicorn.Server(uvicorn.Config(create_app(url, ledger, https_only, proxies,
                                                      require_two_factor=require),
                                           host=host, port=port, proxy_headers=False,
                                           log_level="warning"))
    _started(host, port)
    server.run(sockets=[sock])


def serve_url(host: str, port: int) -> str:
    """The address `ledger serve` is reached at (an IPv6 host in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _started(host: str, port: int) -> None:
    click.echo(f"Serving the web view at {serve_url(host, port)}/ (press Ctrl+C to stop)")


def _listen(host: str, port: int):
    """The listening socket, bound here so a port in use is one clear line and the
    address is printed only once it answers; named as TCP, so asyncio switches off
    Nagle's delay on each connection (uvicorn's own bind for several workers leaves the
    protocol out, which costs about 40 ms a reply)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.listen(2048)  # from here a browser's request waits for the server, never refused
    sock.set_inheritable(True)
    return sock


def _serve_workers(sock, host: str, port: int, workers: int) -> None:
    """Several uvicorn workers on the one socket bound by `_listen`."""
    from uvicorn import Config
    from uvicorn.supervisors import Multiprocess

    config = Config("ledger.web.app:create_app_from_env", factory=True, host=host, port=port,
                    workers=workers, proxy_headers=False, log_level="warning")
    Multiprocess(config, sockets=[sock]).run()
