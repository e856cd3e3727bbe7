"""Loading the catalogue: strict metadata, clear errors, and meta-tests on shipped indicators."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import duckdb
import pytest

from vigie.indicators import IndicatorError, builtin_indicators, load_catalogue, run
from vigie.indicators.catalogue import parse_indicator
from vigie.indicators.sqltext import parameters, split_statements, substitute

DOCS = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"

META = """
id = "helpdesk_users"
grain = "one row per population"
dimensions = ["population"]
filters = ["period"]
chart = "bar"
unit = "people"
title = { fr = "Utilisateurs du helpdesk", en = "Helpdesk users" }
description = { fr = "Personnes distinctes.", en = "Distinct people." }

[[measures]]
column = "users"
kind = "people"
label = { fr = "Utilisateurs", en = "Users" }
"""

SQL = """
SELECT population, count(DISTINCT user_pseudo) AS users FROM events
WHERE service = 'helpdesk' AND ($start IS NULL OR day >= $start)
  AND ($end IS NULL OR day <= $end)
GROUP BY population ORDER BY population
"""


def write(folder: Path, meta: str = META, sql: str = SQL, name: str = "helpdesk_users") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.toml").write_text(textwrap.dedent(meta), encoding="utf-8")
    (folder / f"{name}.sql").write_text(sql, encoding="utf-8")
    return folder


def error(meta: str = META, sql: str = SQL, stem: str = "helpdesk_users") -> str:
    with pytest.raises(IndicatorError) as info:
        parse_indicator(meta, sql, "univ/helpdesk_users.toml", stem=stem)
    return str(info.value)


def test_indicators_catalogue_every_shipped_indicator_is_bilingual_documented_and_tested() -> None:
    # An indicator's tests live in test_defaults.py or in a module of their own: read every
    # module's text (importing one could skip it, like test_spark.py without Java).
    tests = {name for module in Path(__file__).parent.glob("test_*.py")
             for name in re.findall(r"^def (test_indicators_default_\w+)\(",
                                    module.read_text(encoding="utf-8"), re.MULTILINE)}
    docs = DOCS.read_text(encoding="utf-8")
    for indicator in builtin_indicators().values():
        meta = indicator.meta
        assert meta.title.fr and meta.title.en and meta.title.fr != meta.title.en, indicator.id
        assert meta.description.fr and meta.description.en, indicator.id
        assert all(m.label.fr and m.label.en for m in meta.measures), indicator.id
        assert f"test_indicators_default_{indicator.id}" in tests, (
            f"shipped indicator {indicator.id!r} has no test_indicators_default_{indicator.id}")
        assert f"`{indicator.id}`" in docs, f"{indicator.id!r} is not listed in docs/indicators.md"


def test_indicators_catalogue_an_installation_adds_its_own(tmp_path: Path,
                                                           con: duckdb.DuckDBPyConnection) -> None:
    catalogue = load_catalogue([write(tmp_path / "univ")])
    assert "helpdesk_users" in catalogue and "adoption" in catalogue
    assert run(catalogue["helpdesk_users"], con).to_pylist() == [
        {"population": "employee", "users": 1}, {"population": "faculty", "users": 5},
        {"population": "student", "users": 1}]


def test_indicators_catalogue_an_installation_cannot_shadow_a_shipped_id(tmp_path: Path) -> None:
    folder = write(tmp_path / "univ", META.replace("helpdesk_users", "adoption"), name="adoption")
    with pytest.raises(IndicatorError, match=r"id 'adoption' is already defined in .*adoption"):
        load_catalogue([folder])


def test_indicators_catalogue_missing_companion_and_folder(tmp_path: Path) -> None:
    folder = write(tmp_path / "univ")
    (folder / "helpdesk_users.sql").unlink()
    with pytest.raises(IndicatorError, match=r"helpdesk_users.toml: its companion "
                                             r"helpdesk_users.sql is missing"):
        load_catalogue([folder])
    with pytest.raises(IndicatorError, match="does not exist"):
        load_catalogue([tmp_path / "nowhere"])


@pytest.mark.parametrize(("meta", "message"), [
    (META + 'colour = "red"\n', "colour: Extra inputs are not permitted"),
    (META.replace(', en = "Helpdesk users"', ""), "title.en: Field required"),
    (META.replace('kind = "people"', 'kind = "persons"'), "measures.0.kind: Input should be"),
    (META.replace('"population"]', '"user_pseudo"]'), "never leave the server"),
    (META.replace('grain = "one row per population"', 'grain = "populations"'), "grain"),
    (META.replace('chart = "bar"', 'chart = "pie3d"'), "chart: Input should be"),
    (META.replace('filters = ["period"]', 'filters = ["period", "colour"]'), "filters.1"),
    (META + '[[measures]]\ncolumn = "rate"\nkind = "ratio"\nnumerator = "users"\n'
     'denominator = "people"\nlabel = { fr = "Taux", en = "Rate" }\n',
     "'people' must be a people, count or value measure"),
    (META + '[[measures]]\ncolumn = "rate"\nkind = "ratio"\n'
     'label = { fr = "Taux", en = "Rate" }\n', "needs 'numerator' and 'denominator'"),
    (META.replace('column = "users"', 'column = "users_suppressed"'), "reserved"),
    (META.replace('unit = "people"', 'unit = "people"\ncoverage = { fr = "a", en = "b" }'),
     "coverage: only for an indicator without the period filter"),
    ("id = ", "not valid TOML"),
])
def test_indicators_catalogue_metadata_errors_name_file_and_key(meta: str, message: str) -> None:
    text = error(meta=meta)
    assert text.startswith("indicator file univ/helpdesk_users.toml: ")
    assert message in text


def test_indicators_catalogue_sql_errors() -> None:
    assert "id: 'helpdesk_users' must match the file name ('other')" in error(stem="other")
    assert "$service (declare filter 'service' in 'filters')" in error(
        sql=SQL + " AND service = $service")
    assert "$colour (no such parameter)" in error(sql=SQL.replace("'helpdesk'", "$colour"))
    unused = error(meta=META.replace('["period"]', '["period", "device"]'))
    assert "the SQL never uses $device" in unused
    assert "exactly one SELECT statement, found 2" in error(sql=SQL + "; SELECT 1")
    assert parse_indicator(META, SQL + ";\n-- done\n", "x.toml", stem="helpdesk_users")


def test_indicators_catalogue_results_must_match_the_declared_columns(
        con: duckdb.DuckDBPyConnection) -> None:
    extra = SQL.replace("AS users", "AS users, max(user_pseudo) AS who")
    indicator = parse_indicator(META, extra, "x.toml", stem="helpdesk_users")
    with pytest.raises(IndicatorError, match=r"undeclared \['who'\]"):
        run(indicator, con)
    disguised = SQL.replace("SELECT population", "SELECT max(user_pseudo) AS population")
    indicator = parse_indicator(META, disguised, "x.toml", stem="helpdesk_users")
    with pytest.raises(IndicatorError, match="holds pseudonyms"):
        run(indicator, con)


def test_indicators_sqltext_ignores_strings_and_comments() -> None:
    sql = "SELECT '$no', \"$no\" -- $no\n /* $no; */ FROM t WHERE a = $yes AND b = 'it''s $no'"
    assert parameters(sql) == {"yes"}
    assert substitute(sql, lambda name: "42").endswith("a = 42 AND b = 'it''s $no'")
    assert split_statements("SELECT ';'; -- end") == ["SELECT ';'"]

