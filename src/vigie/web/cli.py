"""`vigie serve` and `vigie web account …`: run the dashboards and manage their local accounts.

Thin Typer commands over `vigie.web.app` and `vigie.web.accounts`; the main `vigie` command
mounts them (`app.command("serve")(serve)`, `app.add_typer(web_app, name="web")`). The accounts
file defaults to `accounts.json` next to the configuration file, for both commands.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigie.config import load_config
from vigie.errors import VigieError
from vigie.web.accounts import read_accounts, write_account
from vigie.web.dashboards import Role

__all__ = ["account_add", "account_list", "serve", "web_app"]

web_app = typer.Typer(help="The web dashboards: local accounts.", no_args_is_help=True)
account_app = typer.Typer(help="Local accounts of the dashboards (user, password, role).",
                          no_args_is_help=True)
web_app.add_typer(account_app, name="account")
console = Console()

ConfigOption = Annotated[Path, typer.Option("--config", "-c",
                                            help="The TOML configuration file.")]
AccountsOption = Annotated[Path | None, typer.Option(
    help="The accounts file (JSON or TOML); default: accounts.json next to the configuration.")]


def _accounts_path(config: Path, accounts: Path | None) -> Path:
    return accounts if accounts is not None else config.resolve().parent / "accounts.json"


def _fail(exc: Exception) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {exc}")
    return typer.Exit(2)


def serve(
    config: ConfigOption = Path("vigie.toml"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    accounts: AccountsOption = None,
    trusted_proxy: Annotated[list[str] | None, typer.Option(
        "--trusted-proxy", help="Address or CIDR of a reverse proxy whose user header is "
                                "trusted (repeatable), besides [web] trusted_proxies.")] = None,
    remote_user_header: Annotated[str | None, typer.Option(
        help="The header a trusted proxy sets to the authenticated user; default: "
             "[web] remote_user_header (REMOTE_USER).")] = None,
    dashboards: Annotated[Path | None, typer.Option(
        help="A dashboards TOML file replacing the shipped one.")] = None,
) -> None:
    """Serves the dashboards and the indicators API at http://HOST:PORT/.

    Example:  [bold]vigie serve -c /etc/vigie/vigie.toml --port 8000[/]
    """
    import uvicorn

    from vigie.web.app import create_app

    try:
        cfg = load_config(config)
        app = create_app(cfg, accounts=_accounts_path(config, accounts),
                         trusted_proxies=trusted_proxy or (),
                         remote_user_header=remote_user_header, dashboards=dashboards)
    except (VigieError, ValueError) as exc:
        raise _fail(exc) from None
    console.print(f"vigie dashboards on http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="warning",
                proxy_headers=False)


@account_app.command("add")
def account_add(
    user: Annotated[str, typer.Argument(help="The user name (login).")],
    role: Annotated[Role | None, typer.Option(
        help="viewer, manager or admin; without it, the role of the user's directory groups "
             "(web.group_roles), else viewer.")] = None,
    structure: Annotated[list[str] | None, typer.Option(
        "--structure", help="A structure code a manager is restricted to, with its "
                            "sub-structures (repeatable).")] = None,
    config: ConfigOption = Path("vigie.toml"),
    accounts: AccountsOption = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (scripts).")] = False,
    no_password: Annotated[bool, typer.Option(
        "--no-password", help="No password: the user signs in through the trusted proxy "
                              "only.")] = False,
) -> None:
    """Adds a user (or changes its password and role); the password is stored as scrypt.

    Example:  [bold]vigie web account add alice --role admin -c /etc/vigie/vigie.toml[/]
    Example:  [bold]vigie web account add marc --role manager --structure UFRST[/]
    """
    if no_password:
        password: str | None = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Password for {user}: ")
        if getpass.getpass("Again: ") != password:
            raise _fail(ValueError("the passwords differ"))
    if password is not None and len(password) < 8:
        raise _fail(ValueError("use a password of at least 8 characters"))
    path = _accounts_path(config, accounts)
    structures = tuple(structure or ())
    try:
        write_account(path, user, password, role, structures)
    except VigieError as exc:
        raise _fail(exc) from None
    console.print(f"{user} ({_role_text(role, structures)}) saved in {path}.")


def _role_text(role: Role | None, structures: tuple[str, ...]) -> str:
    if role is None:
        return "role from directory groups, else viewer"
    return f"{role} of {', '.join(structures)}" if structures else role


@account_app.command("list")
def account_list(config: ConfigOption = Path("vigie.toml"),
                 accounts: AccountsOption = None) -> None:
    """Lists the users, their roles and whether they have a password.

    Example:  [bold]vigie web account list -c /etc/vigie/vigie.toml[/]
    """
    try:
        found = read_accounts(_accounts_path(config, accounts))
    except VigieError as exc:
        raise _fail(exc) from None
    table = Table("user", "role", "password")
    for account in sorted(found.values(), key=lambda a: a.user):
        table.add_row(account.user, _role_text(account.role, account.structures),
                      "yes" if account.password else "no (proxy)")
    console.print(table)
