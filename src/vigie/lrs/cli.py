"""`vigie lrs …`: serve the Learning Record Store and manage its tenants and credentials.

Thin Typer commands over `vigie.lrs.app` and `vigie.lrs.tenants`; every command takes the
storage of the LRS: the folder of the embedded store with `--root` (credentials in
`tenants.sqlite`, one statement database per tenant), or a PostgreSQL database with
`--database postgresql://…` (or `VIGIE_LRS_DATABASE`), its password read from the environment
variable named by `--password-env`, as `password_env` does for Moodle's database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigie.config import password_from_env
from vigie.errors import VigieError
from vigie.lrs.backend import open_registry
from vigie.lrs.tenants import SCOPES, TenantRegistry

__all__ = ["lrs_app"]

lrs_app = typer.Typer(help="The xAPI Learning Record Store.", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants: institutions or platforms with isolated stores.",
                         no_args_is_help=True)
credentials_app = typer.Typer(help="Credentials (HTTP Basic) of a tenant, with their scopes.",
                              no_args_is_help=True)
lrs_app.add_typer(tenant_app, name="tenant")
oidc_app = typer.Typer(help="OIDC bearer tokens (JWT) a tenant accepts, checked with a JWKS.",
                       no_args_is_help=True)
lrs_app.add_typer(credentials_app, name="credentials")
lrs_app.add_typer(oidc_app, name="oidc")
console = Console()

RootOption = Annotated[Path, typer.Option(
    "--root", help="The folder of the embedded store (unused with --database).")]
DatabaseOption = Annotated[str | None, typer.Option(
    "--database", envvar="VIGIE_LRS_DATABASE", show_envvar=True,
    help="PostgreSQL URI of the LRS, e.g. postgresql://vigie@db.example:5432/lrs "
         "(default: the embedded SQLite store under --root).")]
PasswordEnvOption = Annotated[str | None, typer.Option(
    "--password-env", help="Environment variable holding the --database password (else "
                           "libpq's PGPASSWORD or ~/.pgpass).")]


def _password(password_env: str | None) -> str | None:
    try:
        return password_from_env(password_env, key="--password-env")
    except VigieError as exc:
        raise _fail(exc) from None


@contextmanager
def _registry(
    root: Path, database: str | None, password_env: str | None
) -> Iterator[TenantRegistry]:
    """The registry the options name, for one command."""
    try:
        registry = open_registry(root, database=database, password=_password(password_env))
    except VigieError as exc:
        raise _fail(exc) from None
    try:
        yield registry
    finally:
        registry.close()


def _fail(exc: ValueError | VigieError) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {exc}")
    return typer.Exit(2)


@lrs_app.command("serve")
def serve(
    root: RootOption = Path("lrs"),
    database: DatabaseOption = None,
    password_env: PasswordEnvOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
    workers: Annotated[int, typer.Option(
        min=1, help="Server processes sharing the port (one per core uses them all).")] = 1,
    max_body_mb: Annotated[int, typer.Option(help="Largest request body, in MiB.")] = 10,
    max_limit: Annotated[int, typer.Option(help="Most statements per GET page.")] = 500,
    default_version: Annotated[str, typer.Option(
        help="xAPI version (1.0.3 or 2.0.0) named in answers to requests that name none.")
    ] = "1.0.3",
) -> None:
    """Serves the xAPI endpoint at http://HOST:PORT/xAPI/: 1.0.3 or 2.0.0, as each request's
    X-Experience-API-Version header asks.

    Example:  [bold]vigie lrs serve --root /srv/vigie/lrs --port 8100 --workers 2[/]

    On PostgreSQL:  [bold]LRS_DB_PASSWORD=… vigie lrs serve --database
    postgresql://vigie@db.example:5432/lrs --password-env LRS_DB_PASSWORD[/]
    """
    from vigie.lrs.server import ServeSettings
    from vigie.lrs.server import serve as run
    from vigie.lrs.versions import SUPPORTED

    version = next((known for known in SUPPORTED if known == default_version), None)
    if version is None:
        raise _fail(ValueError(
            f"--default-version: {default_version!r} is not one of {', '.join(SUPPORTED)}"
        ))
    settings = ServeSettings(
        root=str(root), database=database, password_env=password_env,
        max_body_bytes=max_body_mb << 20, max_limit=max_limit, default_version=version,
    )
    try:
        run(settings, host=host, port=port, workers=workers)
    except VigieError as exc:
        raise _fail(exc) from None


@lrs_app.command("export")
def export(
    root: RootOption = Path("lrs"),
    database: DatabaseOption = None,
    password_env: PasswordEnvOption = None,
    config: Annotated[Path, typer.Option("--config", "-c",
                                         help="The vigie configuration (lake and secret).")
                      ] = Path("vigie.toml"),
) -> None:
    """Copies new statements into the analytics lake, actors pseudonymized (run from cron).

    Example:  [bold]vigie lrs export --root /srv/vigie/lrs -c /etc/vigie/vigie.toml[/]
    """
    from vigie.config import load_config
    from vigie.lrs.export import export_statements
    from vigie.privacy.pseudonym import secret_of

    try:
        cfg = load_config(config)
        report = export_statements(cfg, root, secret=secret_of(cfg), database=database,
                                   password=_password(password_env))
    except VigieError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    for tenant, count in report.tenants.items():
        console.print(f"{tenant}: {count} new statements in the lake")


@tenant_app.command("add")
def tenant_add(
    name: Annotated[str, typer.Argument(help="Tenant name, e.g. univ-demo.")],
    root: RootOption = Path("lrs"),
    database: DatabaseOption = None,
    password_env: PasswordEnvOption = None,
    home_page: Annotated[str | None, typer.Option(help="The authority's homePage IRI.")] = None,
) -> None:
    """Adds a tenant.

    Example:  [bold]vigie lrs tenant add univ-demo --root lrs[/]

    On PostgreSQL:  [bold]vigie lrs tenant add univ-demo --database
    postgresql://vigie@db.example/lrs --password-env LRS_DB_PASSWORD[/]
    """
    with _registry(root, database, password_env) as registry:
        try:
            registry.add_tenant(name, home_page=home_page)
        except ValueError as exc:
            raise _fail(exc) from None
    console.print(f"Tenant {name} added.")


@tenant_app.command("list")
def tenant_list(
    root: RootOption = Path("lrs"), database: DatabaseOption = None,
    password_env: PasswordEnvOption = None,
) -> None:
    """Lists the tenants.

    Example:  [bold]vigie lrs tenant list --root lrs[/]
    """
    table = Table("tenant", "home page", "created", "credentials")
    with _registry(root, database, password_env) as registry:
        tenants = registry.tenants()
    for tenant in tenants:
        table.add_row(str(tenant["name"]), str(tenant["home_page"] or ""),
                      str(tenant["created"]), str(tenant["credentials"]))
    console.print(table)


@tenant_app.command("remove")
def tenant_remove(
    name: str, root: RootOption = Path("lrs"), database: DatabaseOption = None,
    password_env: PasswordEnvOption = None,
) -> None:
    """Removes a tenant and its credentials (its statements file or schema is kept).

    Example:  [bold]vigie lrs tenant remove univ-demo --root lrs[/]
    """
    with _registry(root, database, password_env) as registry:
        try:
            registry.remove_tenant(name)
        except ValueError as exc:
            raise _fail(exc) from None
    console.print(f"Tenant {name} removed.")


@credentials_app.command("add")
def credentials_add(
    tenant: str,
    root: RootOption = Path("lrs"),
    database: DatabaseOption = None,
    password_env: PasswordEnvOption = None,
    scope: Annotated[list[str], typer.Option(
        help=f"Scope (repeatable): {', '.join(SCOPES)}.")] = ["statements/write"],  # noqa: B006
    label: Annotated[str | None, typer.Option(help="What the credential is for.")] = None,
) -> None:
    """Creates a credential; its secret is shown once and only stored hashed.

    Example:  [bold]vigie lrs credentials add univ-demo --scope statements/write --label moodle[/]
    """
    with _registry(root, database, password_env) as registry:
        try:
            new = registry.add_credential(tenant, scopes=tuple(scope), label=label or "")
        except ValueError as exc:
            raise _fail(exc) from None
    console.print(f"key:    {new.key}\nsecret: {new.secret}\n(the secret is not shown again)")


@credentials_app.command("list")
def credentials_list(
    tenant: Annotated[str | None, typer.Argument()] = None, root: RootOption = Path("lrs"),
    database: DatabaseOption = None, password_env: PasswordEnvOption = None,
) -> None:
    """Lists credentials (never their secrets).

    Example:  [bold]vigie lrs credentials list univ-demo --root lrs[/]
    """
    with _registry(root, database, password_env) as registry:
        rows = registry.credentials(tenant)
    table = Table(*(rows[0].keys() if rows else ("key",)))
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)


@credentials_app.command("revoke")
def credentials_revoke(
    key: str, root: RootOption = Path("lrs"), database: DatabaseOption = None,
    password_env: PasswordEnvOption = None,
) -> None:
    """Revokes a credential at once.

    Example:  [bold]vigie lrs credentials revoke 3f2a… --root lrs[/]
    """
    with _registry(root, database, password_env) as registry:
        try:
            registry.revoke_credential(key)
        except ValueError as exc:
            raise _fail(exc) from None
    console.print("Credential revoked.")


@oidc_app.command("set")
def oidc_set(
    tenant: Annotated[str, typer.Argument(help="The tenant whose tokens these are.")],
    issuer: Annotated[str, typer.Option(help="The tokens' iss claim, exactly.")],
    audience: Annotated[str, typer.Option(help="The aud claim (the LRS's client id).")],
    root: RootOption = Path("lrs"),
    database: DatabaseOption = None,
    password_env: PasswordEnvOption = None,
    jwks_url: Annotated[str | None, typer.Option(
        help="https URL of the issuer's JWKS (fetched, cached 5 minutes).")] = None,
    jwks_file: Annotated[Path | None, typer.Option(
        help="A local JWKS file (offline installations); read again when it changes.")] = None,
    scope_claim: Annotated[str, typer.Option(
        help="Claim carrying the scopes (space-separated string or list).")] = "scope",
    user_claim: Annotated[str, typer.Option(
        help="Claim naming the user, recorded as the authority's account name.")] = "sub",
    allow_scope: Annotated[list[str] | None, typer.Option(
        help=f"Most scopes a token may grant (repeatable; default all): {', '.join(SCOPES)}."
    )] = None,
) -> None:
    """Makes a tenant accept OIDC bearer tokens (replaces its previous OIDC settings).

    Example:  [bold]vigie lrs oidc set univ-demo --issuer https://idp.example/realms/univ
    --audience vigie-lrs --jwks-url https://idp.example/realms/univ/protocol/openid-connect/certs
    --root lrs[/]
    """
    from vigie.lrs.oidc import parse_jwks

    if (jwks_url is None) == (jwks_file is None):
        raise _fail(ValueError("give exactly one of --jwks-url and --jwks-file"))
    file_name = None
    if jwks_file is not None:
        try:
            keys = parse_jwks(jwks_file.read_bytes())
        except OSError as exc:
            raise _fail(ValueError(f"{jwks_file}: {exc.strerror}")) from None
        except ValueError as exc:
            raise _fail(ValueError(f"{jwks_file}: {exc}")) from None
        if not keys:
            raise _fail(ValueError(f"{jwks_file}: no RSA or P-256 signature key in this JWKS"))
        file_name = str(jwks_file.resolve())
    with _registry(root, database, password_env) as registry:
        try:
            config = registry.set_oidc(
                tenant, issuer=issuer, audience=audience, jwks_url=jwks_url, jwks_file=file_name,
                scope_claim=scope_claim, user_claim=user_claim,
                scopes=tuple(allow_scope) if allow_scope else SCOPES,
            )
        except ValueError as exc:
            raise _fail(exc) from None
    console.print(f"Tenant {tenant} accepts bearer tokens of {config.issuer} "
                  f"for audience {config.audience}.")


@oidc_app.command("show")
def oidc_show(
    tenant: str, root: RootOption = Path("lrs"), database: DatabaseOption = None,
    password_env: PasswordEnvOption = None,
) -> None:
    """Shows a tenant's OIDC settings.

    Example:  [bold]vigie lrs oidc show univ-demo --root lrs[/]
    """
    with _registry(root, database, password_env) as registry:
        config = registry.oidc(tenant)
    if config is None:
        raise _fail(ValueError(f"tenant {tenant!r} has no OIDC configuration"))
    table = Table("setting", "value")
    table.add_row("issuer", config.issuer)
    table.add_row("audience", config.audience)
    table.add_row("jwks url" if config.jwks_url else "jwks file", config.jwks_source)
    table.add_row("scope claim", config.scope_claim)
    table.add_row("user claim", config.user_claim)
    table.add_row("allowed scopes", " ".join(config.scopes))
    console.print(table)


@oidc_app.command("remove")
def oidc_remove(
    tenant: str, root: RootOption = Path("lrs"), database: DatabaseOption = None,
    password_env: PasswordEnvOption = None,
) -> None:
    """Stops a tenant from accepting bearer tokens (its Basic credentials are kept).

    Example:  [bold]vigie lrs oidc remove univ-demo --root lrs[/]
    """
    with _registry(root, database, password_env) as registry:
        try:
            registry.remove_oidc(tenant)
        except ValueError as exc:
            raise _fail(exc) from None
    console.print(f"Tenant {tenant} no longer accepts bearer tokens.")
