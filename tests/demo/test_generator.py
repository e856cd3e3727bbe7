"""The demo university: reproducible, valid for vigie's own readers, and shaped like real usage."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from vigie.config import Config, load_config
from vigie.demo import MANIFEST, generate
from vigie.demo.catalog import ETAPES
from vigie.demo.generator import build_context
from vigie.demo.sources import GENERATORS
from vigie.referential.directory import load_ldif
from vigie.referential.network import ZonePlan
from vigie.sources.compile import compile_format
from vigie.sources.moodle import read_logstore_csv
from vigie.sources.reader import discover, fingerprint, read_chunks
from vigie.sources.spec import builtin_formats

END = date(2026, 11, 20)
SMALL = {"people": 300, "days": 14, "end": END}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("demo"), **SMALL)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def config(demo: Path) -> Config:
    return load_config(demo)


@pytest.fixture(scope="module")
def manifest(demo: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((demo.parent / MANIFEST).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def parsed(config: Config) -> dict[str, pa.Table]:
    """Every source parsed with its shipped format, as `vigie ingest` would: name -> rows."""
    formats = builtin_formats()
    out: dict[str, pa.Table] = {}
    for source in config.sources:
        spec = formats[source.format]
        compiled = compile_format(spec)
        tables = []
        for path in discover(source.paths, config.base_dir):
            con = duckdb.connect()
            if spec.kind == "table":
                rows, rejects = read_logstore_csv(
                    path, users_csv=config.path(source.users_csv) if source.users_csv else None
                )
                assert rejects.num_rows == 0
                lines = rows
            else:
                file = fingerprint(path)
                chunks = read_chunks(file, offset=0, line_no=0, chunk_bytes=1 << 22)
                lines = pa.concat_tables([c.lines for c in chunks])
            con.register("raw", lines)
            table = compiled.parse(con, "raw", timezone="Europe/Paris",
                                   reference=datetime.now(UTC))
            rel = path.relative_to(config.base_dir).as_posix()
            tables.append(table.append_column("file", pa.array([rel] * table.num_rows)))
            con.close()
        out[source.name] = pa.concat_tables(tables)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_demo_generator_same_seed_same_files(demo: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", **SMALL)  # type: ignore[arg-type]
    first, second = _files(demo.parent), _files(again.parent)
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_demo_generator_other_seed_other_logs(demo: Path, tmp_path: Path) -> None:
    other = generate(tmp_path / "other", seed=7, **SMALL)  # type: ignore[arg-type]
    name = "logs/cas/serviceStats.log"
    assert (other.parent / name).read_bytes() != (demo.parent / name).read_bytes()


def test_demo_generator_other_stream_same_people_other_events(demo: Path,
                                                              tmp_path: Path) -> None:
    # Windows of a long period (bench/dashboard.py): the same directory, other events.
    other = generate(tmp_path / "stream", stream=1, **SMALL)  # type: ignore[arg-type]
    assert (other.parent / "annuaire.ldif").read_bytes() == (
        demo.parent / "annuaire.ldif").read_bytes()
    for name in ("logs/cas/serviceStats.log", "logs/mail/dovecot.log"):
        assert (other.parent / name).read_bytes() != (demo.parent / name).read_bytes()


def test_demo_generator_config_is_valid(demo: Path, config: Config) -> None:
    shipped = builtin_formats()
    assert config.vigie.school_zone == "B"
    assert config.vigie.secret_file == "secret"
    assert not (demo.parent / "secret").exists()  # the CLI creates it, not the generator
    assert config.directory is not None and config.directory.ldif == "annuaire.ldif"
    assert {"wired", "wifi", "eduroam", "vpn"} <= set(config.network)
    ZonePlan(config.network)
    assert {s.format for s in config.sources} <= set(shipped)
    assert {"cas_servicestats", "apache_combined"} <= {s.format for s in config.sources}
    for source in config.sources:
        assert discover(source.paths, config.base_dir), source.name
    cas = next(s for s in config.sources if s.format == "cas_servicestats")
    assert {r.service for r in cas.routes} == {
        "ent", "moodle", "webmail", "helpdesk", "nextcloud", "pod", "ade"
    }  # fmt: skip
    assert (demo.parent / "logs/cas/serviceStats.log.1.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_demo_generator_directory_counts(config: Config, manifest: dict[str, object]) -> None:
    assert config.directory is not None and config.directory.ldif
    directory = load_ldif(config.path(config.directory.ldif))
    people = directory.people
    assert people.num_rows == 300
    assert len(set(people.column("uid").to_pylist())) == 300
    counts = Counter(people.column("population").to_pylist())
    recorded = manifest["directory"]["primary_affiliation"]  # type: ignore[index]
    assert dict(counts) == recorded
    # 80 % students (plus the few teachers recorded as students), 8 % teachers, 10 % staff, 2 %.
    anomalies = manifest["directory"]["anomalies"]  # type: ignore[index]
    mislabelled = anomalies["teachers_recorded_as_students"]
    assert mislabelled >= 1
    assert counts["student"] == 240 + mislabelled
    assert counts["teacher"] + counts["faculty"] == 24 - mislabelled
    assert counts["staff"] + counts["employee"] == 30
    assert counts["researcher"] + counts["affiliate"] == 6
    assert directory.structures.num_rows == 12
    labels = dict(
        zip(
            directory.structures.column("code").to_pylist(),
            directory.structures.column("label").to_pylist(),
            strict=True,
        )
    )
    assert labels["UFRST"] == "UFR Sciences et Technologies"
    structure = people.column("structure").to_pylist()
    assert structure.count(None) == anomalies["people_without_structure"]
    # A structure code that the structures branch does not know: no label.
    orphans = [
        code
        for code, label in zip(structure, people.column("structure_label").to_pylist(), strict=True)
        if code is not None and label is None
    ]
    assert len(orphans) == anomalies["obsolete_structure_code"] >= 1
    students = people.filter(pc.equal(people.column("population"), "student"))
    etapes = students.column("etape").to_pylist()
    assert sum(e is not None for e in etapes) >= 0.97 * students.num_rows
    offered = {code for options in ETAPES.values() for code, _, _ in options}
    assert set(etapes) - {None} <= offered
    assert set(students.column("cursus_year").to_pylist()) - {None} <= {
        "L1",
        "L2",
        "L3",
        "M1",
        "M2",
    }


def test_demo_generator_lines_parse_except_the_spoilt_ones(
    parsed: dict[str, pa.Table], manifest: dict[str, object]
) -> None:
    files: dict[str, dict[str, list[int]]] = manifest["files"]  # type: ignore[assignment]
    reasons: Counter[str] = Counter()
    for name, table in parsed.items():
        bad = table.filter(pc.is_valid(table.column("_reason")))
        assert table.num_rows > 0, name
        assert bad.num_rows <= 0.005 * table.num_rows + 3, name
        failing = sorted(
            zip(bad.column("file").to_pylist(), bad.column("line_no").to_pylist(), strict=True)
        )
        expected = sorted(
            (f, n)
            for f in set(table.column("file").to_pylist())
            for n in files[f]["malformed_lines"]
        )
        assert failing == expected, name
        reasons.update(
            r.split(" (")[0].split(" format")[0] for r in bad.column("_reason").to_pylist()
        )
        good = table.filter(pc.is_null(table.column("_reason")))
        assert pc.all(pc.is_valid(good.column("ts"))).as_py(), name
        assert pc.all(pc.is_valid(good.column("user"))).as_py() or name == "helpdesk", name
        first = datetime(2026, 11, 7, tzinfo=UTC)
        assert pc.min(good.column("ts")).as_py() >= first.replace(day=6), name
        assert pc.max(good.column("ts")).as_py() < first.replace(day=21), name
    assert {"not valid UTF-8 text", "does not match", "unreadable time"} <= set(reasons)


def test_demo_generator_cas_routes_cover_every_ticket(
    parsed: dict[str, pa.Table], config: Config
) -> None:
    cas = next(s for s in config.sources if s.format == "cas_servicestats")
    hosts = {r.host for r in cas.routes}
    table = parsed[cas.name].filter(pc.is_null(parsed[cas.name].column("_reason")))
    seen = {re.match(r"https?://([^/?]+)", t).group(1) for t in table.column("target").to_pylist()}  # type: ignore[union-attr]
    assert seen == hosts


def test_demo_generator_rhythm_follows_days_and_hours(parsed: dict[str, pa.Table]) -> None:
    con = duckdb.connect()
    con.register("cas", parsed["cas"])
    by_hour = dict(
        con.sql(
            "SELECT hour(timezone('Europe/Paris', ts)) AS h, count(*) FROM cas "
            "WHERE _reason IS NULL GROUP BY 1"
        ).fetchall()
    )
    assert by_hour.get(10, 0) > 8 * by_hour.get(3, 0)
    assert by_hour.get(15, 0) > by_hour.get(21, 0) > by_hour.get(4, 0)
    by_day = dict(
        con.sql(
            "SELECT isodow(timezone('Europe/Paris', ts)) >= 6, count(*) / count(DISTINCT "
            "CAST(timezone('Europe/Paris', ts) AS DATE)) FROM cas WHERE _reason IS NULL GROUP BY 1"
        ).fetchall()
    )
    assert by_day[False] > 2 * by_day[True]


def test_demo_generator_reproduces_the_agimus_gaps(tmp_path: Path) -> None:
    """The seed talk's questions have visible answers: who uses the helpdesk, from where, how."""
    config = load_config(generate(tmp_path / "u", people=2_000, days=14, end=END))
    cas = next(s for s in config.sources if s.format == "cas_servicestats")
    assert config.directory is not None and config.directory.ldif
    people = load_ldif(config.path(config.directory.ldif)).people
    role = dict(
        zip(people.column("uid").to_pylist(), people.column("population").to_pylist(), strict=True)
    )
    rows = []
    spec = builtin_formats()["cas_servicestats"]
    for path in discover(cas.paths, config.base_dir):
        lines = pa.concat_tables(
            c.lines
            for c in read_chunks(fingerprint(path), offset=0, line_no=0, chunk_bytes=1 << 22)
        )
        con = duckdb.connect()
        con.register("raw", lines)
        con.register("parsed", compile_format(spec).parse(
            con, "raw", timezone="Europe/Paris", reference=datetime.now(UTC)
        ))
        rows += con.sql(
            "SELECT user, ip, user_agent, target FROM parsed WHERE _reason IS NULL"
        ).fetchall()
    zones = ZonePlan(config.network).classify(pa.array([r[1] for r in rows])).to_pylist()
    hosts = [re.match(r"https?://([^/?]+)", r[3]).group(1).split(".")[0] for r in rows]  # type: ignore[union-attr]

    def users(service: str, population: set[str]) -> int:
        return len(
            {
                r[0]
                for r, h in zip(rows, hosts, strict=True)
                if h == service and role.get(r[0]) in population
            }
        )

    teachers = {"teacher", "faculty"}
    n_teachers = sum(p in teachers for p in role.values())
    assert (
        users("helpdesk", teachers) < 0.2 * n_teachers < 0.6 * n_teachers < users("ent", teachers)
    )

    def share(service: str, test: str) -> float:
        picked = [(r, z) for r, z, h in zip(rows, zones, hosts, strict=True) if h == service]
        if test == "outside":
            return float(sum(z == "outside" for _, z in picked)) / len(picked)
        return sum("Mobile" in str(r[2] or "") for r, _ in picked) / len(picked)

    assert share("helpdesk", "outside") < 0.2 < 0.35 < share("webmail", "outside")
    assert share("moodle", "mobile") < 0.1 < 0.2 < share("ent", "mobile")
    # About 1 % of the accounts in the logs are not in the directory.
    logged = {r[0] for r in rows}
    absent = len(logged - role.keys()) / len(logged)
    assert 0.002 < absent < 0.03


SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
_ISO_Z = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"
#: The shape of real lines, written from the samples; each must also match the sample lines.
SHAPES: dict[str, tuple[str, list[int], str]] = {
    # format: (regular expression, sample line numbers it must match, sample file)
    "dovecot": (
        r"^[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d \S+ dovecot(\[\d+\])?: (imap|pop3)-login: "
        r"Login: user=<[^>]+>, method=[A-Z0-9-]+, rip=[0-9a-f.:]+, lip=[0-9a-f.:]+, "
        r"mpid=\d+, (TLS|secured)(, session=<[^>]+>)?$",
        [1, 2, 3, 4, 6, 8, 10],
        "dovecot.log",
    ),
    "roundcube_userlogins": (
        r"^\[\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}\]: (<\w{8}> )?"
        r"(Successful login for \S+ \(ID: \d+\) from \S+ in session \w+"
        r"|Failed login for \S+ from \S+ in session \w+ \(error: \d+\))$",
        [1, 2, 3],
        "roundcube_userlogins.log",
    ),
    "shibboleth_idp_audit": (
        rf"^[0-9a-f.:]+\|{_ISO_Z}\|{_ISO_Z}\|[^|]+\|https?://[^|]+\|_[0-9a-f]+\|[a-z]+\|{_ISO_Z}\|"
        r"[A-Za-z,]+\|[^|]+\|[a-zA-Z]+\|(true|false)\|(true|false)\|[^|]*\|[A-Za-z]+\|[A-Za-z]+\|"
        r"\|Success\|\|[0-9a-f]{64}\|[^|]+$",
        [1, 2],
        "shibboleth_idp_audit.log",
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_demo_generator_line_shapes_follow_the_real_samples(name: str, tmp_path: Path) -> None:
    """Generators whose format may not be shipped yet still write the real shape."""
    pattern, sample_lines, sample = SHAPES[name]
    real = (SAMPLES / sample).read_text(encoding="utf-8").splitlines()
    assert all(re.match(pattern, real[i - 1]) for i in sample_lines)
    ctx = build_context(tmp_path, seed=3, people=300, days=14, end=END, events_scale=1.0)
    source = GENERATORS[name](ctx)
    for file, count in source.lines.items():
        raw = (tmp_path / file).read_bytes().split(b"\n")[:-1]
        assert len(raw) == count > 0
        spoilt = set(source.damaged[file])
        assert 0 < len(spoilt) <= 0.005 * count + 3
        wrong = [
            n
            for n, line in enumerate(raw, start=1)
            if n not in spoilt and not re.match(pattern, line.decode("utf-8"))
        ]
        assert wrong == []


def test_demo_generator_nextcloud_lines_have_the_keys_of_real_ones(tmp_path: Path) -> None:
    real = (SAMPLES / "nextcloud_audit.json").read_text(encoding="utf-8").splitlines()
    keys = set(json.loads(real[-1]))
    ctx = build_context(tmp_path, seed=3, people=300, days=14, end=END, events_scale=1.0)
    source = GENERATORS["nextcloud_audit"](ctx)
    [file] = source.lines
    spoilt = set(source.damaged[file])
    messages: Counter[str] = Counter()
    for n, line in enumerate((tmp_path / file).read_bytes().split(b"\n")[:-1], start=1):
        if n in spoilt:
            continue
        record = json.loads(line)
        assert set(record) == keys
        datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S%z")
        assert record["app"] == "admin_audit"
        assert record["user"] == "--" or record["user"] in record["url"] + record["message"]
        messages[record["message"].split(":")[0]] += 1
    assert {"Login successful", "Login attempt", "File accessed", "File written to"} <= set(
        messages
    )
