"""The README's first command, `scripts/demo`, ends with the demo dashboards on
http://127.0.0.1:8000 and prints that address.

Running the script itself would install vigie in a fresh virtual environment (minutes, and the
network), so the test reads the script and runs what follows the installation, as the script
runs it, from a scratch folder standing for the repository: `vigie demo` with the smallest
arguments the README offers to pass on, then the script's last command, `vigie serve`, with the
server's start replaced by a capture of where it would listen and what it would serve; the
captured application is then opened with the demo account the script announces.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from vigie.cli import app

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo"
ADDRESS = "http://127.0.0.1:8000"
#: The smallest demo: what the script passes on to `vigie demo` through "$@".
SMALL = ["--people", "200", "--days", "10"]
RUNNER = CliRunner()


def _commands() -> list[list[str]]:
    """The script's commands as shell words, comments and blank lines left out."""
    lines = SCRIPT.read_text(encoding="utf-8").splitlines()
    return [shlex.split(line) for line in lines
            if line.strip() and not line.lstrip().startswith("#")]


def _vigie(words: list[str]) -> list[str]:
    """The arguments of a `.venv/bin/vigie …` command (after an optional `exec`)."""
    if words[0] == "exec":
        words = words[1:]
    assert words[0] == ".venv/bin/vigie", words
    return words[1:]


def test_demo_script_ends_serving_on_the_address_it_prints() -> None:
    """Statically: the last command serves `demo/vigie.toml`, which `vigie demo "$@"` writes
    (its default `--dir demo`), on the host and port of the address the script prints."""
    commands = _commands()
    assert ["cd", "$(dirname $0)/.."] in commands  # relative paths from the repository
    demo = commands.index([".venv/bin/vigie", "demo", "$@"])
    serve = _vigie(commands[-1])
    assert commands[-1][0] == "exec" and serve[0] == "serve"
    options = dict(zip(serve[1::2], serve[2::2], strict=True))
    assert options == {"-c": "demo/vigie.toml", "--host": "127.0.0.1", "--port": "8000"}
    printed = [c for c in commands[demo + 1:-1] if c[0] == "echo"]
    assert any(f"http://{options['--host']}:{options['--port']}" in " ".join(c)
               for c in printed)
    assert f"http://{options['--host']}:{options['--port']}" == ADDRESS


def test_demo_then_serve_as_the_script_runs_them(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`vigie demo` prints the address; `vigie serve`, as the script's last line calls it,
    prints it too and would listen there, serving the demo's dashboards to demo / demo."""
    monkeypatch.chdir(tmp_path)
    env = {"COLUMNS": "200"}  # no line wrapping inside the address
    made = RUNNER.invoke(app, ["demo", *SMALL], env=env)
    assert made.exit_code == 0, made.output
    assert ADDRESS in made.output and "demo / demo" in made.output
    assert (tmp_path / "demo" / "vigie.toml").is_file()

    listening: dict[str, Any] = {}

    def capture(served: Any, *, host: str, port: int, **_: Any) -> None:
        listening.update(app=served, host=host, port=port)

    monkeypatch.setattr(uvicorn, "run", capture)
    served = RUNNER.invoke(app, _vigie(_commands()[-1]), env=env)
    assert served.exit_code == 0, served.output
    assert re.search(rf"{re.escape(ADDRESS)}/?\s", served.output), served.output
    assert (listening["host"], listening["port"]) == ("127.0.0.1", 8000)

    with TestClient(listening["app"], follow_redirects=False) as browser:
        signed_in = browser.post("/login", data={"user": "demo", "password": "demo",
                                                 "next": "/dashboards/overview"})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/dashboards/overview"
        assert browser.get("/dashboards/overview").status_code == 200
