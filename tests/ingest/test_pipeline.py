"""`vigie ingest` end to end on real log files: idempotent, incremental, rotation-proof, atomic."""

from __future__ import annotations

import gzip
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.conftest import AGIMUS, write_config
from vigie.config import load_config
from vigie.ingest.pipeline import RunReport, ingest
from vigie.ingest.run import near_days
from vigie.warehouse.query import connect

SECRET = b"test-secret-0123456789abcdef"
CAS = AGIMUS / "25-serviceStats_UL.log"
ENT = AGIMUS / "25-access-ent_UL.log"

CONFIG = """
[directory]
ldif = "{ldif}"

[network]
wired = ["193.49.162.0/24"]
vpn = ["172.21.0.0/16"]

[[sources]]
name = "cas"
format = "cas_servicestats"
paths = ["logs/cas*"]
[[sources.routes]]
service = "ent"
host = "ent.univ-lorraine.fr"
[[sources.routes]]
service = "moodle"
pattern = "arche"

[[sources]]
name = "ent"
format = "apache_combined"
paths = ["logs/ent*"]
service = "ent"
"""


def setup(folder: Path, ldif: Path = AGIMUS / "init_ldap.ldif") -> Path:
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    return write_config(folder, CONFIG.format(ldif=ldif))


def run(config: Path, on: date | None = None) -> RunReport:
    return ingest(load_config(config), secret=SECRET, snapshot_date=on)


def events(config: Path, sql: str = "SELECT count(*) FROM events") -> list[tuple[Any, ...]]:
    return connect(load_config(config).lake_path).sql(sql).fetchall()


def lake_files(config: Path) -> set[Path]:
    root = load_config(config).lake_path
    return {p for p in (root / "events").rglob("*.parquet")}


def test_ingest_pipeline_real_agimus_day(tmp_path: Path) -> None:
    config = setup(tmp_path)
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    shutil.copy(ENT, tmp_path / "logs/ent.log")
    report = run(config)
    assert report.rows == 10_000 + 8_584
    assert report.quarantined == 0
    assert report.people == 61
    by_service = dict(events(config, "SELECT service, count(*) FROM events GROUP BY 1"))
    assert by_service["moodle"] == sum(1 for line in CAS.open() if "arche" in line)
    assert by_service["ent"] == 8_584 + sum(
        1 for line in CAS.open() if "[SERVICE:https://ent.univ-lorraine.fr" in line)
    populations = dict(events(config, "SELECT population, count(DISTINCT user_pseudo) "
                                      "FROM events WHERE source = 'cas' GROUP BY 1"))
    assert populations == {"student": 20, "faculty": 20, "employee": 20}
    zones = dict(events(config, "SELECT zone, count(*) FROM events WHERE source='cas' GROUP BY 1"))
    assert zones["wired"] == sum(1 for line in CAS.open() if "[IP:193.49.162." in line)
    # Friday 25 September 2015, academic year 2015-2016, local hours.
    assert events(config, "SELECT DISTINCT weekday, academic_year FROM events") == [
        (5, "2015-2016")]
    last_hour = int(CAS.read_text(encoding="utf-8").splitlines()[-1][12:14])
    assert events(config, "SELECT min(hour), max(hour) FROM events WHERE source='cas'") == [
        (0, last_hour)]


def test_ingest_pipeline_rerun_adds_nothing(tmp_path: Path) -> None:
    config = setup(tmp_path)
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    run(config)
    before = lake_files(config)
    again = run(config)
    assert again.rows == 0
    assert lake_files(config) == before
    assert events(config) == [(10_000,)]


def test_ingest_pipeline_grown_file_is_read_from_where_it_stopped(tmp_path: Path) -> None:
    config = setup(tmp_path)
    lines = CAS.read_bytes().splitlines(keepends=True)
    live = tmp_path / "logs/cas.log"
    live.write_bytes(b"".join(lines[:4000]) + lines[4000][:30])  # a line being written
    assert run(config).rows == 4000
    live.write_bytes(b"".join(lines))
    assert run(config).rows == 6000
    assert events(config) == [(10_000,)]


def test_ingest_pipeline_rotated_and_compressed_file_is_not_read_twice(tmp_path: Path) -> None:
    config = setup(tmp_path)
    lines = CAS.read_bytes().splitlines(keepends=True)
    live = tmp_path / "logs/cas.log"
    live.write_bytes(b"".join(lines[:3000]))
    run(config)
    # logrotate: the file got 2000 more lines, then was renamed and compressed; a new one began.
    (tmp_path / "logs/cas.log.1.gz").write_bytes(gzip.compress(b"".join(lines[:5000])))
    live.write_bytes(b"".join(lines[5000:]))
    assert run(config).rows == 7000
    assert events(config) == [(10_000,)]
    assert run(config).rows == 0


def test_ingest_pipeline_bad_lines_are_quarantined_with_file_line_and_reason(
    tmp_path: Path,
) -> None:
    config = setup(tmp_path)
    good = CAS.read_bytes().splitlines(keepends=True)[:10]
    (tmp_path / "logs/cas.log").write_bytes(
        b"".join(good[:5]) + b"not a cas line\n" + b"[Fri Sep 25 00:22:07 CEST 2015] [IP:\xff\n"
        + good[5].replace(b"Sep 25", b"Sep 99") + b"".join(good[6:])
    )
    report = run(config)
    assert (report.rows, report.quarantined) == (9, 3)
    rows = events(config, "SELECT file, line_no, reason FROM quarantine ORDER BY line_no")
    assert [(Path(f).name, n) for f, n, _ in rows] == [("cas.log", 6), ("cas.log", 7),
                                                         ("cas.log", 8)]
    assert rows[0][2] == "does not match format cas_servicestats"
    assert rows[1][2].startswith("not valid UTF-8")
    assert rows[2][2].startswith("unreadable time")
    # Each bad line is dated by the readable lines around it (the sample's day, 25 Sept 2015).
    assert events(config, "SELECT DISTINCT near_day FROM quarantine") == [(date(2015, 9, 25),)]


def test_ingest_near_days_fill_bad_lines_from_the_readable_ones_around_them() -> None:
    """Out of line order on purpose: a bad line takes the day of the closest readable line
    before it in the log; the lines before the first readable one take its day."""
    d1, d2 = date(2026, 9, 1), date(2026, 9, 2)
    parsed = pa.table({"line_no": [5, 1, 2, 4, 3, 6],
                       "_day": pa.array([None, None, d1, d2, None, None], pa.date32())})
    assert near_days(parsed).to_pylist() == [d2, d1, d1, d2, d1, d2]
    none = pa.table({"line_no": [1, 2], "_day": pa.array([None, None], pa.date32())})
    assert near_days(none).to_pylist() == [None, None]


def test_ingest_pipeline_unreadable_file_does_not_stop_the_others(tmp_path: Path) -> None:
    config = setup(tmp_path)
    (tmp_path / "logs/cas.log.2.gz").write_bytes(b"\x1f\x8b\x08 this is not gzip")
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    report = run(config)
    errors = {f.path.name: f.error for f in report.files}
    assert errors["cas.log.2.gz"] is not None and "cas.log.2.gz" in errors["cas.log.2.gz"]
    assert errors["cas.log"] is None
    assert report.rows == 10_000


def test_ingest_pipeline_events_get_the_directory_valid_on_their_date(tmp_path: Path) -> None:
    """A person who changes category is counted in the old one before the change."""
    ldif_v1 = AGIMUS / "init_ldap.ldif"
    ldif_v2 = tmp_path / "v2.ldif"
    text = ldif_v1.read_text(encoding="utf-8")
    start = text.index("dn: uid=etud0,")
    end = text.index("\n\n", start)
    entry = text[start:end].replace("eduPersonPrimaryAffiliation: student",
                                    "eduPersonPrimaryAffiliation: staff")
    ldif_v2.write_text(text[:start] + entry + text[end:], encoding="utf-8")
    config = setup(tmp_path)
    run(config, on=date(2015, 9, 1))  # nothing to read yet: just the first snapshot
    write_config(tmp_path, CONFIG.format(ldif=ldif_v2))
    run(config, on=date(2015, 9, 26))  # etud0 becomes staff the day after the logs
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    run(config, on=date(2015, 9, 26))
    assert events(config, "SELECT DISTINCT e.population FROM events e JOIN directory d "
                          "USING (user_pseudo) WHERE d.population = 'staff'") == [("student",)]
    daily = dict(events(config, "SELECT day, sum(people) FILTER (population = 'staff') "
                                "FROM population_daily GROUP BY 1"))
    assert daily[date(2015, 9, 25)] is None and daily[date(2015, 9, 26)] == 1


def test_ingest_pipeline_unknown_accounts_are_kept(tmp_path: Path) -> None:
    config = setup(tmp_path)
    line = CAS.read_text(encoding="utf-8").splitlines()[0].replace("[ID:etud0]", "[ID:ghost42]")
    (tmp_path / "logs/cas.log").write_text(line + "\n", encoding="utf-8")
    run(config)
    assert events(config, "SELECT population, user_pseudo IS NOT NULL FROM events") == [
        ("unknown", True)]


def test_ingest_pipeline_refuses_to_run_without_secret(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from vigie.cli import app

    monkeypatch.delenv("VIGIE_SECRET")
    config = setup(tmp_path)
    result = CliRunner().invoke(app, ["ingest", "-c", str(config)])
    assert result.exit_code == 2
    assert "no secret" in result.output


def test_ingest_pipeline_trace_cookies_attribute_web_accesses_to_their_user(
    tmp_path: Path,
) -> None:
    config = setup(tmp_path)
    config.write_text('traces = ["logs/trace*"]\n' + config.read_text(encoding="utf-8"),
                      encoding="utf-8")
    shutil.copy(ENT, tmp_path / "logs/ent.log")
    shutil.copy(AGIMUS / "25-trace.log", tmp_path / "logs/trace.log")
    run(config)
    assert events(config, "SELECT population, count(*) FROM events GROUP BY 1 ORDER BY 1") == [
        ("employee", 2885), ("faculty", 2810), ("student", 2889)]
    # Which login a trace belongs to is kept as a pseudonym only.
    import pyarrow.parquet as pq

    rows = [r for f in (tmp_path / "lake/traces").glob("*.parquet")
            for r in pq.read_table(f).to_pylist()]
    assert len(rows) == 3_764
    assert {tuple(r) for r in rows} == {("trace", "user_pseudo")}
    assert all(re.fullmatch("[0-9a-f]{32}", r["user_pseudo"]) for r in rows)
    assert run(config).rows == 0


def test_ingest_pipeline_structure_attribute_and_labels_are_configurable(tmp_path: Path) -> None:
    """The real demo directory keeps structures in the old `supannAffectation` attribute."""
    config = setup(tmp_path)
    text = config.read_text(encoding="utf-8").replace(
        "[network]",
        '[directory.attributes]\nstructure = "supannAffectation"\n\n'
        '[directory.structure_labels]\ncri = "Centre de ressources informatiques"\n\n[network]')
    config.write_text(text, encoding="utf-8")
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    run(config)
    labels = dict(events(config, "SELECT DISTINCT structure, structure_label FROM events "
                                 "WHERE structure IN ('cri', 'scd')"))
    assert labels == {"cri": "Centre de ressources informatiques", "scd": None}


def test_ingest_pipeline_small_chunks_enrich_exactly_like_one_chunk(tmp_path: Path) -> None:
    """Lookups (pseudonyms, zones, devices) learnt chunk after chunk miss nothing."""
    results = []
    for chunk_mb in (1, 64):
        folder = tmp_path / f"chunks{chunk_mb}"
        config = setup(folder)
        config.write_text(config.read_text(encoding="utf-8").replace(
            '[vigie]\n', f'[vigie]\nchunk_mb = {chunk_mb}\n'), encoding="utf-8")
        shutil.copy(CAS, folder / "logs/cas.log")
        shutil.copy(ENT, folder / "logs/ent.log")
        run(config)
        results.append(events(config, "SELECT source, zone, device, browser, population, "
                                      "count(*), count(DISTINCT user_pseudo) FROM events "
                                      "GROUP BY ALL ORDER BY ALL"))
    assert results[0] == results[1]
    assert not [row for row in results[0] if row[1] == "unknown"]


def test_ingest_pipeline_retention_drops_old_months_only(tmp_path: Path) -> None:
    config = setup(tmp_path)
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[vigie]\n", "[vigie]\nretention_months = 240\n"), encoding="utf-8")
    run(config)  # September 2015 is within 20 years: kept
    assert events(config) == [(10_000,)]
    config.write_text(config.read_text(encoding="utf-8").replace(
        "retention_months = 240", "retention_months = 12"), encoding="utf-8")
    run(config)  # older than a year: every 2015 partition goes
    assert not list((tmp_path / "lake/events").glob("service=*/month=2015-09"))
    assert run(config).rows == 0  # and the files are not read again


def test_ingest_pipeline_unreachable_directory_keeps_the_last_snapshot(tmp_path: Path) -> None:
    config = setup(tmp_path)
    run(config, on=date(2015, 9, 1))  # a first snapshot, from the real LDIF
    write_config(tmp_path, CONFIG.format(ldif=tmp_path / "gone.ldif"))
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    report = run(config, on=date(2015, 9, 26))
    assert report.directory_error is not None and "gone.ldif" in report.directory_error
    assert report.rows == 10_000  # the logs were ingested all the same
    assert dict(events(config, "SELECT population, count(DISTINCT user_pseudo) FROM events "
                               "GROUP BY 1")) == {"student": 20, "faculty": 20, "employee": 20}
