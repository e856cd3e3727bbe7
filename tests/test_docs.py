"""Meta-tests: every configuration key and every command is documented."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from typer.testing import CliRunner

from vigie import config
from vigie.cli import app
from vigie.sources.spec import FormatSpec

DOCS = Path(__file__).resolve().parents[1] / "docs"


def models() -> list[type[BaseModel]]:
    return [config.VigieConfig, config.DirectoryConfig, config.LdapConfig, config.SourceConfig,
            config.RouteConfig, config.MoodleDatabaseConfig, FormatSpec,
            config.IndicatorsConfig, config.WebConfig, config.GroupRoleConfig, config.Config]


def test_docs_every_configuration_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [f"{m.__name__}.{name}" for m in models() for name in m.model_fields
               if name != "base_dir" and f"`{name}`" not in text]
    assert missing == []


def test_docs_every_command_has_help_with_an_example() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    for command in app.registered_commands:
        name = command.name
        assert name is not None
        result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "Example" in result.output, f"`vigie {name} --help` shows no example"
        assert f"vigie {name}" in readme, f"`vigie {name}` is not in the README"


def test_docs_readme_configuration_example_is_valid(tmp_path: Path) -> None:
    """The commented example of the README is a configuration vigie accepts as is."""
    from vigie.config import load_config

    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("A commented example:\n\n```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "vigie.toml"
    path.write_text(example, encoding="utf-8")
    config = load_config(path)
    assert [s.name for s in config.sources] == ["cas", "helpdesk", "moodle-db"]
    assert config.formats[0].name == "adeweb"
