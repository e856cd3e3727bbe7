"""`vigie lrs …` end to end: a tenant, a credential, a real server on loopback, a statement,
on each backend (the `--root` folder, or `--database` with the password from the environment)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.lrs.conftest import LrsBackend
from tests.postgres import Postgres
from vigie.cli import app

RUNNER = CliRunner()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_lrs_cli_tenant_credentials_and_serve(backend: LrsBackend) -> None:
    storage = backend.cli()
    env = {"COLUMNS": "200", **backend.env()}

    def run(*args: str) -> Any:
        return RUNNER.invoke(app, ["lrs", *args, *storage], env=env)

    assert run("tenant", "add", "univ-demo").exit_code == 0
    added = run("credentials", "add", "univ-demo", "--scope", "all", "--label", "moodle")
    assert added.exit_code == 0, added.output
    key = re.search(r"key:\s+(\S+)", added.output)
    secret = re.search(r"secret:\s+(\S+)", added.output)
    assert key and secret
    assert "univ-demo" in run("tenant", "list").output
    assert "moodle" in run("credentials", "list", "univ-demo").output
    assert run("tenant", "add", "univ-demo").exit_code == 2

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "vigie.cli", "lrs", "serve", *storage,
                               "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env={**os.environ, **backend.env()})
    try:
        base = f"http://127.0.0.1:{port}/xAPI"
        for _ in range(100):
            try:
                about = httpx.get(f"{base}/about", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError(server.stderr.read().decode() if server.stderr else "no server")
        assert "1.0.3" in about.json()["version"]
        auth = (key.group(1), secret.group(1))
        headers = {"X-Experience-API-Version": "1.0.3"}
        statement = {
            "actor": {"mbox": "mailto:learner@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "object": {"id": "http://example.org/activity/1"},
        }
        posted = httpx.post(f"{base}/statements", json=statement, auth=auth, headers=headers)
        assert posted.status_code == 200, posted.text
        (statement_id,) = posted.json()
        got = httpx.get(f"{base}/statements", params={"statementId": statement_id}, auth=auth,
                        headers=headers)
        assert got.status_code == 200 and got.json()["id"] == statement_id
        assert httpx.get(f"{base}/statements", headers=headers).status_code == 401
        # revoked by another process while the server remembers the verified credential
        assert run("credentials", "revoke", key.group(1)).exit_code == 0
        again = httpx.get(f"{base}/statements", params={"statementId": statement_id},
                          auth=auth, headers=headers)
        assert again.status_code == 401, again.text
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert run("credentials", "revoke", key.group(1)).exit_code == 2
    assert RUNNER.invoke(app, ["lrs", "serve", "--workers", "0", *storage], env=env
                         ).exit_code == 2


def said(result: Any) -> str:
    """What a command printed, line breaks of the terminal width undone."""
    return " ".join(result.output.split())


def test_unreachable_database_says_which_and_what_to_check() -> None:
    result = RUNNER.invoke(app, ["lrs", "tenant", "list", "--database",
                                 "postgresql://vigie@127.0.0.1:1/lrs"])
    assert result.exit_code == 2
    message = said(result)
    assert "cannot connect to the LRS database vigie@127.0.0.1:1/lrs" in message
    assert "Connection refused" in message and "pg_hba.conf" in message


def test_wrong_password_and_unset_password_variable(
    postgres: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIE_TEST_WRONG", "not the password")
    wrong = RUNNER.invoke(app, ["lrs", "tenant", "list", "--database", postgres.uri,
                                "--password-env", "VIGIE_TEST_WRONG"])
    assert wrong.exit_code == 2 and "password authentication failed" in said(wrong)
    assert postgres.password not in wrong.output
    unset = RUNNER.invoke(app, ["lrs", "serve", "--database", postgres.uri,
                                "--password-env", "VIGIE_TEST_UNSET"])
    assert unset.exit_code == 2
    assert "--password-env: the environment variable VIGIE_TEST_UNSET is not set" in said(unset)
    not_uri = RUNNER.invoke(app, ["lrs", "tenant", "list", "--database", "mysql://x@y/z"])
    assert not_uri.exit_code == 2 and "give a PostgreSQL URI" in said(not_uri)


@pytest.mark.parametrize("command", [
    ("serve",), ("tenant", "add"), ("tenant", "list"), ("tenant", "remove"),
    ("credentials", "add"), ("credentials", "list"), ("credentials", "revoke"),
    ("oidc", "set"), ("oidc", "show"), ("oidc", "remove"),
])
def test_every_storage_command_has_help_with_an_example(command: tuple[str, ...]) -> None:
    result = RUNNER.invoke(app, ["lrs", *command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example:" in result.output and "--database" in result.output
    assert "VIGIE_LRS_DATABASE" in result.output and "--password-env" in result.output
