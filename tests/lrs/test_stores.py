"""The statement stores themselves, on both backends: the rules shared through
`vigie.lrs.statement_batch`, what only concurrency shows, and the two backends' equivalence."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lrs import statements as s
from tests.lrs.conftest import LrsBackend
from vigie.lrs.backend import Backend
from vigie.lrs.errors import BadRequest, Conflict, NotFound
from vigie.lrs.formats import agent_key
from vigie.lrs.store import StatementQuery

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


@pytest.fixture
def stores(backend: LrsBackend) -> Iterator[Backend]:
    opened = backend.open(max_limit=20)
    yield opened
    opened.close()


def ref(target: str, verb: str = "http://x.example/verbs/confirmed") -> dict[str, Any]:
    return {"actor": s.learner(9), "verb": {"id": verb},
            "object": {"objectType": "StatementRef", "id": target}}


def ids_of(stores: Backend, tenant: str = "caen", **filters: Any) -> list[str]:
    found, more = stores.statements.query(StatementQuery(ascending=True, **filters),
                                          tenant=tenant)
    assert more is None
    return [statement["id"] for statement in found]


def test_stored_is_strictly_increasing_in_insertion_order(stores: Backend) -> None:
    first = stores.statements.insert([s.viewed(n) for n in range(30)], tenant="caen")
    second = stores.statements.insert([s.viewed(n) for n in range(30)], tenant="caen")
    stored = [stores.statements.get(i, tenant="caen")["stored"] for i in first + second]
    assert stored == sorted(stored) and len(set(stored)) == len(stored)


def test_conflict_and_voiding_rules_leave_nothing_behind(stores: Backend) -> None:
    [kept] = stores.statements.insert([s.viewed(1)], tenant="caen")
    changed = {**s.viewed(2), "id": kept}
    with pytest.raises(Conflict):
        stores.statements.insert([s.viewed(3), changed], tenant="caen")
    voiding = {**ref(kept, VOIDED), "id": str(uuid.uuid4())}
    with pytest.raises(BadRequest, match="itself a voiding statement"):
        stores.statements.insert([voiding, ref(voiding["id"], VOIDED)], tenant="caen")
    assert ids_of(stores) == [kept]
    stores.statements.insert([voiding], tenant="caen")
    with pytest.raises(NotFound, match="it is voided"):
        stores.statements.get(kept, tenant="caen")
    assert stores.statements.get(kept, tenant="caen", voided=True)["id"] == kept


def test_statement_ref_chain_matches_what_its_target_matches(stores: Backend) -> None:
    """a → b → c stored target first: `a` matches c's filters (the rule applies recursively);
    a referrer stored before its target gets the target's rows when it arrives."""
    c = s.viewed(1, id=str(uuid.uuid4()))
    b = {**ref(c["id"]), "id": str(uuid.uuid4())}
    a = {**ref(b["id"]), "id": str(uuid.uuid4())}
    stores.statements.insert([c], tenant="caen")
    stores.statements.insert([b, a], tenant="caen")
    activity = c["object"]["id"]
    assert ids_of(stores, activity=activity) == [c["id"], b["id"], a["id"]]
    early = {**ref(str(uuid.uuid4())), "id": str(uuid.uuid4())}
    stores.statements.insert([early], tenant="rouen")
    assert ids_of(stores, "rouen", activity=activity) == []
    late = s.viewed(1, id=early["object"]["id"])
    stores.statements.insert([late], tenant="rouen")
    assert ids_of(stores, "rouen", activity=activity) == [early["id"], late["id"]]


def test_filter_values_beyond_1_kib_are_found(stores: Backend) -> None:
    """Long values are indexed by digest (a PostgreSQL index entry holds about 2.7 kB)."""
    activity = "http://x.example/" + "a" * 5000
    statement = {**s.viewed(1), "object": {"id": activity}}
    [statement_id] = stores.statements.insert([statement], tenant="caen")
    assert ids_of(stores, activity=activity) == [statement_id]
    assert ids_of(stores, activity=activity[:-1]) == []


def test_concurrent_writers_never_lose_or_reorder(stores: Backend) -> None:
    """8 threads × 10 batches on one tenant: every statement once, `stored` order = `seq`
    order (what a `more` page and the lake export's cursor rely on)."""
    acked: list[str] = []
    lock = threading.Lock()

    def write(seed: int) -> None:
        for n in range(10):
            ids = stores.statements.insert([s.viewed(seed * 100 + n * 10 + k) for k in range(10)],
                                           tenant="caen")
            with lock:
                acked.extend(ids)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    walked: list[dict[str, Any]] = []
    query = StatementQuery(ascending=True, limit=20)
    while True:
        found, more = stores.statements.query(query, tenant="caen")
        walked += found
        if more is None:
            break
        query = StatementQuery.from_token(more)
    assert sorted(st["id"] for st in walked) == sorted(acked) and len(acked) == 800
    stored = [st["stored"] for st in walked]
    assert stored == sorted(stored)


def test_tenants_do_not_see_each_other(stores: Backend) -> None:
    [statement_id] = stores.statements.insert([s.viewed(1)], tenant="caen")
    with pytest.raises(NotFound):
        stores.statements.get(statement_id, tenant="rouen")
    assert ids_of(stores, "rouen") == []
    stores.statements.insert([s.viewed(2, id=statement_id)], tenant="rouen")  # no conflict
    assert stores.statements.get(statement_id, tenant="caen")["actor"] == s.learner(1)


def random_batches(seed: int) -> Iterator[list[dict[str, Any]]]:
    """Batches mixing activities, agents, registrations, StatementRefs and voiding, with ids
    drawn from a small pool so that conflicts, duplicates and chains happen."""
    rnd = random.Random(seed)
    pool = [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(15)]
    registrations = [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(2)]
    for _ in range(12):
        batch = []
        for statement_id in rnd.sample(pool, rnd.randint(1, 5)):
            if rnd.random() < 0.3:
                verb = VOIDED if rnd.random() < 0.4 else "http://x.example/verbs/confirmed"
                statement = ref(rnd.choice(pool), verb)
            else:
                statement = s.viewed(rnd.randint(1, 3))
                statement["object"] = {"id": f"http://x.example/a/{rnd.randint(1, 4)}"}
            if rnd.random() < 0.3:
                statement["context"] = {"registration": rnd.choice(registrations),
                                        "instructor": s.learner(rnd.randint(4, 5))}
            batch.append({**statement, "id": statement_id})
        yield batch


def outcome(stores: Backend, seed: int) -> list[Any]:
    """Every answer of a store to a random history: errors, then queries over it."""
    answers: list[Any] = []
    for batch in random_batches(seed):
        try:
            answers.append(stores.statements.insert(batch, tenant="caen"))
        except (BadRequest, Conflict) as exc:
            answers.append((type(exc).__name__, exc.message))
    filters: list[dict[str, Any]] = [{}]
    filters += [{"activity": f"http://x.example/a/{n}"} for n in range(1, 5)]
    filters += [{"activity": f"http://x.example/a/{n}", "related_activities": True}
                for n in range(1, 5)]
    for n in range(1, 6):
        key = agent_key(s.learner(n))
        filters += [{"agent": key}, {"agent": key, "related_agents": True}]
    for query in filters:
        answers.append(ids_of(stores, **query))
    for statement_id in {i for batch in random_batches(seed) for i in (st["id"] for st in batch)}:
        for voided in (False, True):
            try:
                answers.append(stores.statements.get(statement_id, tenant="caen",
                                                     voided=voided)["id"])
            except NotFound as exc:
                answers.append(exc.message)
    return answers


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("seed", range(6))
def test_both_backends_answer_the_same(seed: int, backend: LrsBackend) -> None:
    """The same random history gives the same answers (errors included) on SQLite and on
    PostgreSQL."""
    sqlite = LrsBackend("sqlite", backend.root / "sqlite").open()
    postgres = backend.open()
    try:
        assert outcome(postgres, seed) == outcome(sqlite, seed)
    finally:
        sqlite.close()
        postgres.close()


def test_values_holding_u0000_are_stored_and_found(stores: Backend) -> None:
    """The IRI and account name patterns let U+0000 through, which PostgreSQL text cannot
    hold: such filter values and authorities are indexed by digest, on both backends."""
    activity = "http://x.example/a\x00b"
    authority = {"objectType": "Agent", "account": {"homePage": "http://x.example",
                                                    "name": "sub\x00ject"}}
    statement = {**s.viewed(1), "object": {"id": activity}, "authority": authority}
    [statement_id] = stores.statements.insert([statement], tenant="caen")
    assert ids_of(stores, activity=activity) == [statement_id]
    assert ids_of(stores, authority=agent_key(authority)) == [statement_id]
    assert stores.statements.get(statement_id, tenant="caen")["object"]["id"] == activity


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_long_tenant_names_get_distinct_schemas(stores: Backend) -> None:
    """PostgreSQL truncates names at 63 bytes: `lrs_` + a 63-character tenant name would, and
    two tenants sharing their first 59 characters would share a schema."""
    first, second = "u" * 62 + "1", "u" * 62 + "2"
    [statement_id] = stores.statements.insert([s.viewed(1)], tenant=first)
    assert ids_of(stores, second) == []
    assert ids_of(stores, first) == [statement_id]
