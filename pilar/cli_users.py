"""`pilar users …`: user administration from the server's shell, through the same application
service as the admin API. Every change is recorded as made by the OS user who ran the command
(`os:<login>`), never by an anonymous `system`."""

import getpass
import logging
import secrets
import sys
from collections.abc import Callable

import click

from pilar.bootstrap import Services, bootstrap
from pilar.cases import vocab
from pilar.cases.access import Actor
from pilar.cases.account import UserAccount
from pilar.cases.errors import PilarError
from pilar.cases.passwords import password_problem
from pilar.cases.security_log import init_security_log, security_event
from pilar.store.kek import KekError
from pilar.store.key_checks import KeyMismatch


def run(command: Callable[[Services], object]):
    """Run one command on freshly built services; a domain error is a clean CLI error."""
    services = bootstrap()
    try:
        return command(services)
    except (PilarError, KekError, KeyMismatch) as e:
        raise click.ClickException(str(e)) from None
    finally:
        services.close()


def os_actor() -> Actor:
    """The OS user running the command, acting as an admin: whoever can run `pilar` on the server
    can read its keys and database anyway."""
    return Actor(f"os:{getpass.getuser()}", "admin", None, client="local")


def _password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


def _change(username: str, change: str, command: Callable[[Services, Actor], object]) -> None:
    actor = os_actor()
    run(lambda services: command(services, actor))
    init_security_log()
    security_event("user_changed", user=actor.username, client="local", path=None, level=logging.INFO,
                   account=username, change=change)


def _describe(user: UserAccount) -> str:
    scope = ",".join(user.kecamatan) or "all kecamatan"
    pii = ("pii" if user.reads_pii else "no pii") + ("" if user.pii is None else " (set)")
    state = "active" if user.active else "deactivated"
    return f"{user.username}\t{user.role}\t{_pillars(user.pillars)}\t{scope}\t{pii}\t{state}"


def _pillars(pillars: tuple[str, ...]) -> str:
    return ",".join(pillars) or "all pillars"


PILLAR_OPTION = click.option("--pillar", "pillars", multiple=True, type=click.Choice(vocab.PILLARS),
                             help="The user's pillar: exactly one for workers; a coordinator may have several "
                                  "(repeat) or none (all pillars); none for auditors and admins.")


@click.group()
def users() -> None:
    """User accounts (changes are recorded as made by os:<your login>)."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(vocab.ROLES))
@PILLAR_OPTION
@click.option("--kecamatan", multiple=True, help="A kecamatan code the user serves (repeat; none: all).")
@click.option("--pii/--no-pii", default=None, help="Reads personal identifiers in clear (default: as the role does).")
def users_add(name: str, role: str, pillars: tuple[str, ...], kecamatan: tuple[str, ...], pii: bool | None) -> None:
    """Add a user; the password is read from standard input (or prompted for)."""
    password = _password()
    _change(name, "added", lambda services, actor: services.cases.add_user(
        actor, name, role, pillars, password, kecamatan=kecamatan, pii=pii))
    click.echo(f"added {role} {name} ({_pillars(pillars)})")


@users.command("list")
def users_list() -> None:
    """Every account: name, role, pillar, kecamatan, personal-data access, state."""
    for user in run(lambda services: services.cases.list_users(os_actor())):
        click.echo(_describe(user))


@users.command("set-role")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(vocab.ROLES))
@PILLAR_OPTION
def users_set_role(name: str, role: str, pillars: tuple[str, ...]) -> None:
    """Change a user's role and pillar(s)."""
    _change(name, "role", lambda services, actor: services.cases.change_role(actor, name, role, pillars))
    click.echo(f"{name} is now {role} ({_pillars(pillars)})")


@users.command("set-scope")
@click.argument("name")
@click.argument("kecamatan", nargs=-1)
def users_set_scope(name: str, kecamatan: tuple[str, ...]) -> None:
    """Set the kecamatan codes a user serves; none: every kecamatan."""
    _change(name, "scope", lambda services, actor: services.cases.change_scope(actor, name, kecamatan))
    click.echo(f"{name} serves {', '.join(kecamatan) or 'every kecamatan'}")


@users.command("set-pii")
@click.argument("name")
@click.argument("access", type=click.Choice(["on", "off", "default"]))
def users_set_pii(name: str, access: str) -> None:
    """Whether a user reads NIK, KK, phone and address in clear (default: as their role does)."""
    pii = {"on": True, "off": False, "default": None}[access]
    _change(name, "pii", lambda services, actor: services.cases.set_pii(actor, name, pii))
    click.echo(f"personal-data access of {name}: {access}")


@users.command("reset-password")
@click.argument("name")
def users_reset_password(name: str) -> None:
    """Set a user's password (from standard input, or prompted for); their old tokens stop working."""
    password = _password()
    _change(name, "password", lambda services, actor: services.cases.reset_password(actor, name, password))
    click.echo(f"password of {name} changed")


users.add_command(users_reset_password, "passwd")  # the older name, so that scripts still run


@users.command("deactivate")
@click.argument("name")
def users_deactivate(name: str) -> None:
    """Deactivate a user: they can no longer sign in, and their tokens stop working."""
    _change(name, "deactivated", lambda services, actor: services.cases.deactivate_user(actor, name))
    click.echo(f"deactivated {name}")


@users.command("reactivate")
@click.argument("name")
def users_reactivate(name: str) -> None:
    """Reactivate a deactivated user (their tokens from before stay retired)."""
    _change(name, "reactivated", lambda services, actor: services.cases.reactivate_user(actor, name))
    click.echo(f"reactivated {name}")


@users.command("revoke")
@click.argument("name")
def users_revoke(name: str) -> None:
    """Revoke every session of a user: every token issued so far stops working."""
    _change(name, "sessions_revoked", lambda services, actor: services.cases.revoke_sessions(actor, name))
    click.echo(f"every session of {name} revoked")


@users.command("ensure-admin")
def users_ensure_admin() -> None:
    """On an empty store, create `admin` and print its password once."""
    password = secrets.token_urlsafe(18)  # 24 random characters, which could (once in a million) hold "admin"
    while password_problem(password, "admin"):
        password = secrets.token_urlsafe(18)

    def ensure(services: Services) -> bool:
        if services.cases.has_users():
            return False
        services.cases.add_user(os_actor(), "admin", "admin", None, password)
        return True

    if not run(ensure):
        return
    click.echo("=" * 64)
    click.echo(f"  Created user 'admin' with one-time password:  {password}")
    click.echo("  It is not stored anywhere in clear: note it now.")
    click.echo("=" * 64)
