"""Period presets, accounts files, the dashboards file, sessions and the account command."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from vigie.indicators.catalogue import load_catalogue
from vigie.web.accounts import AccountError, AccountStore, read_accounts
from vigie.web.cli import web_app
from vigie.web.dashboards import DashboardError, indicators_for, load_dashboards
from vigie.web.params import FilterError, parse_selection
from vigie.web.sessions import SessionSigner

TODAY = date(2026, 3, 20)  # a Friday


@pytest.mark.parametrize(("period", "start"), [
    ("week", date(2026, 3, 16)), ("month", date(2026, 3, 1)), ("year", date(2025, 9, 1)),
])
def test_web_period_presets(period: str, start: date) -> None:
    selection = parse_selection({"period": period}, TODAY)
    assert (selection.start, selection.end) == (start, TODAY)


def test_web_academic_year_starts_in_september() -> None:
    assert parse_selection({}, date(2026, 9, 1)).start == date(2026, 9, 1)
    assert parse_selection({"period": "all"}, TODAY).start is None


def test_web_custom_period_and_errors() -> None:
    selection = parse_selection({"start": "2026-03-02", "service": "ent", "x": "y"}, TODAY)
    assert selection.period == "custom" and selection.start == date(2026, 3, 2)
    assert selection.values == {"service": "ent"}
    assert "period=custom" in selection.query() and "service=ent" in selection.query()
    with pytest.raises(FilterError, match="period"):
        parse_selection({"period": "decade"}, TODAY)
    with pytest.raises(FilterError, match="after it ends"):
        parse_selection({"start": "2026-03-10", "end": "2026-03-01"}, TODAY)


def test_web_accounts_toml_and_errors(tmp_path: Path) -> None:
    from vigie.lrs.tenants import hash_secret

    path = tmp_path / "accounts.toml"
    path.write_text(f'[users.ana]\npassword = "{hash_secret("pw-123456")}"\nrole = "manager"\n'
                    '[users.sso]\nrole = "viewer"\n', encoding="utf-8")
    store = AccountStore(path)
    assert store.check("ana", "pw-123456") is not None
    assert store.check("ana", "wrong") is None
    assert store.check("sso", "") is None  # no password: proxy only
    assert store.check("nobody", "x") is None
    path.write_text('[users.bad]\nrole = "root"\n', encoding="utf-8")
    with pytest.raises(AccountError, match="role"):
        read_accounts(path)
    path.write_text('[users.bad]\npassword = "clear-text"\n', encoding="utf-8")
    with pytest.raises(AccountError, match="scrypt"):
        read_accounts(path)


def test_web_accounts_roles_and_structures(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text('[users.marc]\nrole = "manager"\nstructures = ["UFRST", "IUT"]\n'
                    '[users.sso]\n', encoding="utf-8")
    accounts = read_accounts(path)
    assert accounts["marc"].structures == ("UFRST", "IUT")
    assert accounts["sso"].role is None  # from directory groups, else viewer
    for body, error in [('role = "viewer"\nstructures = ["UFRST"]', "only a manager"),
                        ('structures = ["UFRST"]', "role is not set"),
                        ('role = "manager"\nstructures = "UFRST"', "list of structure codes")]:
        path.write_text(f"[users.bad]\n{body}\n", encoding="utf-8")
        with pytest.raises(AccountError, match=rf"users\.bad\.structures: .*{error}"):
            read_accounts(path)


def test_web_session_cookie_expires_and_resists_tampering() -> None:
    signer = SessionSigner(b"k" * 32, max_age=60)
    cookie = signer.issue("ana", "scrypt$x", now=1000)
    assert signer.read(cookie, now=1030) is not None
    assert signer.read(cookie, now=1061) is None
    assert signer.read(cookie[:-2] + "AA", now=1030) is None
    assert SessionSigner(b"other" * 8).read(cookie, now=1030) is None


def test_web_shipped_dashboards_and_role_rule() -> None:
    catalogue = load_catalogue()
    boards = load_dashboards(catalogue)
    assert [b.title.fr for b in boards.values()] == [
        "Vue d’ensemble", "Tendances", "Authentification", "ENT", "Moodle", "Messagerie",
        "Helpdesk", "Nextcloud", "Annuaire", "Santé de l’ingestion", "Qualité du SI"]
    assert "quarantine" not in indicators_for("viewer", boards, catalogue)
    assert "quarantine" not in indicators_for("manager", boards, catalogue)
    assert indicators_for("admin", boards, catalogue) == set(catalogue)
    restricted = indicators_for("manager", boards, catalogue, restricted=True)
    assert "data_quality" in indicators_for("manager", boards, catalogue)
    assert "data_quality" not in restricted and "gaps" in restricted
    assert all("structure" in catalogue[i].meta.filters for i in restricted)


@pytest.mark.parametrize(("panel", "error"), [
    ('indicator = "nope"', "not in the catalogue"),
    ('indicator = "adoption"\nmeasure = "bogus"', "not a measure"),
    ('indicator = "adoption"\nx = "bogus"', "not a dimension"),
    ('indicator = "rhythm"\nchart = "heatmap"', "needs a fixed service"),
    ('indicator = "strengths"\nservice = "ent"', "no service filter"),
    ('indicator = "directory"\n[[dashboards]]\nid = "b"\ntitle = { fr = "B", en = "B" }\n'
     'sign_on = true\n[[dashboards.panels]]\nindicator = "directory"', "no source filter"),
    ('indicator = "adoption"\ncolour = "x"', "Extra inputs"),
])
def test_web_dashboards_file_errors(tmp_path: Path, panel: str, error: str) -> None:
    path = tmp_path / "boards.toml"
    path.write_text('[[dashboards]]\nid = "a"\ntitle = { fr = "A", en = "A" }\n'
                    f"[[dashboards.panels]]\n{panel}\n", encoding="utf-8")
    with pytest.raises(DashboardError, match=error):
        load_dashboards(load_catalogue(), path)


def test_web_account_command(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    runner = CliRunner()
    app = typer.Typer()
    app.add_typer(web_app, name="web")
    result = runner.invoke(app, ["web", "account", "add", "ana", "--role", "admin",
                                 "--accounts", str(accounts), "--password-stdin"],
                           input="long-enough-pw\n")
    assert result.exit_code == 0, result.output
    assert accounts.stat().st_mode & 0o777 == 0o600
    assert "long-enough-pw" not in accounts.read_text(encoding="utf-8")
    assert AccountStore(accounts).check("ana", "long-enough-pw") is not None
    short = runner.invoke(app, ["web", "account", "add", "bo", "--accounts", str(accounts),
                                "--password-stdin"], input="short\n")
    assert short.exit_code == 2
    listed = runner.invoke(app, ["web", "account", "list", "--accounts", str(accounts)],
                           env={"COLUMNS": "120"})
    assert "ana" in listed.output and "admin" in listed.output
    manager = runner.invoke(app, ["web", "account", "add", "marc", "--role", "manager",
                                  "--structure", "UFRST", "--structure", "IUT", "--no-password",
                                  "--accounts", str(accounts)])
    assert manager.exit_code == 0, manager.output
    assert read_accounts(accounts)["marc"].structures == ("UFRST", "IUT")
    groups = runner.invoke(app, ["web", "account", "add", "sso", "--no-password",
                                 "--accounts", str(accounts)])
    assert groups.exit_code == 0 and read_accounts(accounts)["sso"].role is None
    viewer = runner.invoke(app, ["web", "account", "add", "vi", "--role", "viewer",
                                 "--structure", "UFRST", "--no-password",
                                 "--accounts", str(accounts)])
    assert viewer.exit_code == 2 and "only a manager" in viewer.output
    listed = runner.invoke(app, ["web", "account", "list", "--accounts", str(accounts)],
                           env={"COLUMNS": "160"})
    assert "manager of UFRST, IUT" in listed.output
    assert "role from directory groups, else viewer" in listed.output
