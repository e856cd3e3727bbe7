"""Statements flow into the analytics lake with the spine's pseudonyms, incrementally."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import write_config
from tests.lrs.conftest import LrsBackend
from tests.test_privacy import stored_text
from vigie.config import load_config
from vigie.lrs.export import export_statements
from vigie.privacy.pseudonym import Pseudonymizer
from vigie.warehouse.query import connect

SECRET = b"test-secret-0123456789abcdef"
COURSE = "https://moodle.univ-demo.fr/course/view.php?id=7"


def moodle_statement(
    name: str, verb: str, module: int, score: float | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "actor": {"account": {"homePage": "https://moodle.univ-demo.fr", "name": name}},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        "object": {"id": f"https://moodle.univ-demo.fr/mod/quiz/view.php?id={module}"},
        "context": {"contextActivities": {"parent": [{"id": COURSE}]}, "platform": "Moodle"},
        "timestamp": "2026-10-05T09:15:00+02:00",
    }
    if score is not None:
        statement["result"] = {"score": {"scaled": score}, "success": score >= 0.5}
    return statement


def test_lrs_export_pseudonymizes_like_the_spine_and_is_incremental(
    tmp_path: Path, backend: LrsBackend, client: TestClient, writer: dict[str, str]
) -> None:
    batch = [moodle_statement("Etud0", "attempted", 1),
             moodle_statement("etud1", "passed", 1, 0.8),
             {"actor": {"mbox": "mailto:ens0@univ-demo.fr"},
              "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
              "object": {"id": COURSE}}]
    posted = client.post("/xAPI/statements", json=batch, headers=writer)
    assert posted.status_code == 200, posted.text
    (tmp_path / "site").mkdir()
    config = load_config(write_config(tmp_path / "site", """
[[sources]]
name = "unused"
format = "cas_servicestats"
paths = ["none/*.log"]
service = "cas"
"""))
    def export() -> dict[str, int]:
        return export_statements(config, tmp_path, secret=SECRET, database=backend.database,
                                 password=backend.password).tenants

    assert export() == {"caen": 3}  # rouen has no statements, hence no storage: not exported
    con = connect(config.lake_path)
    rows = con.sql("SELECT actor_pseudo, verb, course, score_scaled, success, tenant, month "
                   "FROM statements ORDER BY verb").fetchall()
    pseudo = Pseudonymizer(SECRET)
    assert {r[0] for r in rows} == {pseudo.one("etud0"), pseudo.one("etud1"),
                                    pseudo.one("ens0@univ-demo.fr")}
    passed = next(r for r in rows if r[1].endswith("/passed"))
    assert passed[2:] == (COURSE, 0.8, True, "caen", "2026-10")
    assert export()["caen"] == 0
    # A voiding statement arrives later: it is exported with the id it voids.
    first_id = posted.json()[0]
    voiding = {"actor": {"mbox": "mailto:admin@univ-demo.fr"},
               "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
               "object": {"objectType": "StatementRef", "id": first_id}}
    assert client.post("/xAPI/statements", json=voiding, headers=writer).status_code == 200
    assert export()["caen"] == 1
    con = connect(config.lake_path)
    assert con.sql("SELECT voids FROM statements WHERE voids IS NOT NULL").fetchall() == [
        (first_id,)]
    text = stored_text(config.lake_path)
    assert not re.search(r"etud0|etud1|ens0@|admin@", text, re.IGNORECASE)
