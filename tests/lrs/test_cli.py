"""`vigie lrs …` end to end: a tenant, a credential, a real server on loopback, a statement."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from vigie.cli import app

RUNNER = CliRunner()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_lrs_cli_tenant_credentials_and_serve(tmp_path: Path) -> None:
    root = str(tmp_path / "lrs")
    assert RUNNER.invoke(app, ["lrs", "tenant", "add", "univ-demo", "--root", root]).exit_code == 0
    added = RUNNER.invoke(app, ["lrs", "credentials", "add", "univ-demo", "--root", root,
                                "--scope", "all", "--label", "moodle"])
    assert added.exit_code == 0, added.output
    key = re.search(r"key:\s+(\S+)", added.output)
    secret = re.search(r"secret:\s+(\S+)", added.output)
    assert key and secret
    listed = RUNNER.invoke(app, ["lrs", "tenant", "list", "--root", root],
                           env={"COLUMNS": "200"})
    assert "univ-demo" in listed.output
    assert RUNNER.invoke(app, ["lrs", "tenant", "add", "univ-demo", "--root", root]).exit_code == 2

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "vigie.cli", "lrs", "serve", "--root", root,
                               "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
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
    finally:
        server.terminate()
        server.wait(timeout=10)
    revoked = RUNNER.invoke(app, ["lrs", "credentials", "revoke", key.group(1), "--root", root])
    assert revoked.exit_code == 0
