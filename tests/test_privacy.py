"""Raw identifiers and IP addresses never reach storage: proven on every file the lake holds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import AGIMUS
from tests.ingest.test_pipeline import CAS, ENT, run, setup


def raw_values() -> set[str]:
    """Every login of the directory and every IP address and login found in the logs."""
    ldif = (AGIMUS / "init_ldap.ldif").read_text(encoding="utf-8")
    uids = set(re.findall(r"^uid: (\S+)$", ldif, re.M))
    logs = CAS.read_text(encoding="utf-8") + ENT.read_text(encoding="utf-8")
    ips = set(re.findall(r"\[IP:([^\]]+)\]", logs)) | set(re.findall(r"^(\S+) - ", logs, re.M))
    ids = set(re.findall(r"\[ID:([^\]]+)\]", logs))
    return {v for v in uids | ips | ids if len(v) >= 4}


def stored_text(root: Path) -> str:
    """Everything stored: raw bytes of each file, plus the decoded values of Parquet files."""
    parts = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        parts.append(path.read_bytes().decode("latin-1"))
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            parts.extend(str(column.to_pylist()) for column in table.columns)
    return "\n".join(parts)


def test_privacy_no_raw_identifier_or_ip_in_any_stored_file(tmp_path: Path) -> None:
    config = setup(tmp_path)
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    shutil.copy(ENT, tmp_path / "logs/ent.log")
    # Malformed lines carrying an identifier and an IP must not leak through the quarantine.
    with (tmp_path / "logs/cas.log").open("a", encoding="utf-8") as out:
        out.write("[broken] [IP:193.49.162.17] [ID:etud0] truncated\n")
    report = run(config)
    assert report.rows > 18_000 and report.quarantined == 1
    values = raw_values()
    assert {"etud0", "ens0", "pers0", "193.49.162.17"} <= values
    text = stored_text(tmp_path / "lake")
    assert "user_pseudo" in text  # the scan does read the Parquet files' contents
    leaked = sorted(v for v in values if v in text)
    assert leaked == []


def test_privacy_demo_lake_holds_no_login_or_address_of_the_demo(tmp_path: Path) -> None:
    """The demo university's every login and IP address, searched in every stored file."""
    from datetime import date

    from vigie.config import load_config
    from vigie.demo import generate
    from vigie.ingest.pipeline import ingest

    config_path = generate(tmp_path / "demo", people=300, days=14, end=date(2026, 3, 20))
    report = ingest(load_config(config_path), secret=b"demo-secret-0123456789abcdef")
    assert report.rows > 10_000 and report.quarantined > 0
    uids = set(re.findall(r"^uid: (\S+)$", (tmp_path / "demo/annuaire.ldif").read_text(
        encoding="utf-8"), re.M))
    logs = "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in (tmp_path / "demo/logs").rglob("*")
        if p.is_file() and p.suffix != ".gz"
    )
    ipv4 = set(re.findall(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])", logs))
    ipv6 = set(re.findall(r"(?<![0-9a-f:])(2001:db8:[0-9a-f:]+)", logs))
    logins = set(re.findall(r"user=<([^>]+)>", logs)) | set(re.findall(r"\[ID:([^\]]+)\]", logs))
    raw = {v for v in uids | ipv4 | ipv6 | logins if len(v) >= 5}
    assert len(uids) >= 300 and len(ipv4) > 100 and ipv6 and logins
    text = stored_text(tmp_path / "demo/lake")
    assert sorted(v for v in raw if v in text) == []
