"""A wrong configuration gets an error naming the file, the key at fault and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import write_config
from vigie.cli import app
from vigie.config import load_config
from vigie.errors import ConfigError

SOURCE = """
[[sources]]
name = "cas"
format = "cas_servicestats"
paths = ["logs/*.log"]
service = "cas"
"""


def error_of(tmp_path: Path, body: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, body))
    return str(caught.value)


def test_config_misspelt_key_is_named_with_its_source(tmp_path: Path) -> None:
    message = error_of(tmp_path, SOURCE.replace("paths", "pathz"))
    assert "vigie.toml" in message
    assert "sources[0] (name = 'cas').pathz: unknown key" in message


def test_config_route_needs_exactly_one_criterion(tmp_path: Path) -> None:
    body = SOURCE.replace('service = "cas"', "") + (
        '[[sources.routes]]\nservice = "ent"\nhost = "ent.fr"\nprefix = "https://"\n')
    message = error_of(tmp_path, body)
    assert "sources[0] (name = 'cas').routes[0]" in message
    assert "exactly one of 'host', 'prefix' or 'pattern'" in message


def test_config_source_without_service_or_routes(tmp_path: Path) -> None:
    message = error_of(tmp_path, SOURCE.replace('service = "cas"', ""))
    assert "needs 'service' or at least one entry in 'routes'" in message


def test_config_duplicate_source_names(tmp_path: Path) -> None:
    assert "repeated: cas" in error_of(tmp_path, SOURCE + SOURCE)


def test_config_invalid_toml_says_where(tmp_path: Path) -> None:
    assert "not valid TOML" in error_of(tmp_path, SOURCE + "\nname = = 1\n")


def test_config_bad_cidr_and_unknown_format_are_reported_by_ingest(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[network]\nwifi = ["10.20.0.0/33"]\n' + SOURCE)
    (tmp_path / "logs").mkdir()
    result = CliRunner().invoke(app, ["ingest", "-c", str(config)])
    assert result.exit_code == 2
    assert "wifi" in result.output and "10.20.0.0/33" in result.output
    config = write_config(tmp_path, SOURCE.replace("cas_servicestats", "cas_servicestat"))
    result = CliRunner().invoke(app, ["ingest", "-c", str(config)])
    assert result.exit_code == 2
    assert "unknown format 'cas_servicestat'" in result.output
    assert "cas_servicestats" in result.output  # the names that exist are listed


def test_config_unknown_time_zone_is_named(tmp_path: Path) -> None:
    message = error_of(tmp_path, 'timezone = "Europe/Pari"\n' + SOURCE)
    assert "vigie.timezone: unknown time zone 'Europe/Pari'" in message


def test_config_sign_on_sources_are_those_of_single_sign_on_formats(tmp_path: Path) -> None:
    """CAS and Shibboleth formats are marked `sign_on`, an installation's own format may be;
    the Authentication dashboard shows these sources' events."""
    body = SOURCE + """
[[sources]]
name = "web"
format = "apache_combined"
paths = ["logs/*.log"]
service = "ent"

[[sources]]
name = "portal-sso"
format = "our_sso"
paths = ["sso/*.log"]
service = "ent"

[[formats]]
name = "our_sso"
pattern = '^(?P<time>\\S+) (?P<user>\\S+)$'
time_format = "%Y-%m-%dT%H:%M:%S"
sign_on = true
"""
    assert load_config(write_config(tmp_path, body)).sign_on_sources() == ["cas", "portal-sso"]
