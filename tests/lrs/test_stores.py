"""The statement stores themselves, on both backends: the rules shared through
`vigie.lrs.statement_batch`, what only concurrency shows, and the two backends' equivalence."""

from __future__ import annotations

import contextlib
import json
import os
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.lrs import statements as s
from tests.lrs.conftest import LrsBackend
from vigie.lrs import sqlite_store
from vigie.lrs.backend import Backend
from vigie.lrs.errors import BadRequest, Conflict, NotFound
from vigie.lrs.formats import agent_key, comparison_digest, legacy_comparison_digest
from vigie.lrs.statement_batch import iso, own_keys
from vigie.lrs.statement_query import page_sql
from vigie.lrs.store import StatementQuery
from vigie.lrs.validation import validate_statements

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


# -- a page costs the same whatever the store's size ------------------------------------------


def rows_of(backend: LrsBackend, tenant: str, sql: str, params: list[Any]) -> list[Any]:
    """Rows of SQL written with `{p}` before table names and `?` placeholders, read directly
    from the tenant's database (not through the store)."""
    if backend.server is None:
        import sqlite3

        with sqlite3.connect(backend.root / "statements" / f"{tenant}.sqlite") as db:
            return db.execute(sql.format(p=""), params).fetchall()
    with backend.server.connect() as conn:
        rows: list[Any] = conn.execute(sql.format(p=f'"lrs_{tenant}".').replace("?", "%s"),
                                       params).fetchall()
        return rows


def reference_ids(backend: LrsBackend, query: StatementQuery) -> list[str]:
    """The ids a query must find, by the plainest SQL: a membership test per filter, a
    comparison of `stored` per statement (what `page_sql` computed before it walked indexes)."""
    where: list[str] = ["s.voided = ?"]
    params: list[str | bool] = [False]
    keys = "{p}keys" if backend.server is not None else (  # SQLite: rows not moved yet too
        "(SELECT kind, value, broad, seq FROM terms JOIN (SELECT term, seq FROM keys "
        "UNION ALL SELECT term, seq FROM pending_keys) USING (term))")
    for kind, value, related in (
        ("agent", query.agent, query.related_agents), ("verb", query.verb, True),
        ("activity", query.activity, query.related_activities),
        ("registration", query.registration, True),
    ):
        if value is not None:
            where.append(f"s.seq IN (SELECT k.seq FROM {keys} k WHERE k.kind = ? AND "
                         "k.value = ?" + ("" if related else " AND k.broad = ?") + ")")
            params += [kind, value, *([] if related else [False])]
    for operator, value in (("> ?", query.since), ("<= ?", query.until)):
        if value is not None:
            where.append(f"s.stored {operator}")
            params.append(value)
    order = "ASC" if query.ascending else "DESC"
    sql = (f"SELECT s.body FROM {{p}}statements s WHERE {' AND '.join(where)} "
           f"ORDER BY s.seq {order}")
    return [json.loads(body)["id"] for (body,) in rows_of(backend, "caen", sql, params)]


def walked_ids(stores: Backend, query: StatementQuery) -> list[str]:
    """Every id of a query, through its `more` pages."""
    ids: list[str] = []
    while True:
        found, more = stores.statements.query(query, tenant="caen")
        ids += [statement["id"] for statement in found]
        if more is None:
            return ids
        query = StatementQuery.from_token(more)


def plain(rnd: random.Random) -> dict[str, Any]:
    """A statement whose agent and activity may also be its instructor and parent: one
    statement then has a narrow and a broad index row of the same value."""
    statement = s.viewed(rnd.randint(1, 5))
    statement["object"] = {"id": f"http://x.example/a/{rnd.randint(1, 4)}"}
    if rnd.random() < 0.5:
        statement["context"] = {
            "instructor": s.learner(rnd.randint(1, 5)),
            "contextActivities": {"parent": [{"id": f"http://x.example/a/{rnd.randint(1, 4)}"}]},
        }
    return statement


@pytest.mark.parametrize("seed", range(3))
def test_pages_find_what_the_plainest_sql_finds(
    seed: int, stores: Backend, backend: LrsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random histories (conflicts, voiding, StatementRef chains, registrations, instructors)
    queried with random combinations of filters, `related_*`, `since` / `until`, both orders
    and pages of 3: the index walks of `page_sql` find exactly what a membership test per
    filter finds. On SQLite, index rows are moved from `pending_keys` to `keys` every few
    rows, every few hundred, or never, so that queries and StatementRef rules meet rows in
    either table and both."""
    monkeypatch.setattr(sqlite_store, "_PENDING_ROWS", (7, 200, 10**9)[seed])
    rnd = random.Random(seed)
    for batch in random_batches(seed):
        with contextlib.suppress(BadRequest, Conflict):
            stores.statements.insert(batch, tenant="caen")
        stores.statements.insert([plain(rnd) for _ in range(rnd.randint(0, 12))],
                                 tenant="caen")
    everything = walked_ids(stores, StatementQuery(ascending=True, limit=3))
    stored = [stores.statements.get(i, tenant="caen")["stored"] for i in everything]
    registrations = [st["context"]["registration"] for batch in random_batches(seed)
                     for st in batch if "registration" in st.get("context", {})]
    for _ in range(40):
        filters: dict[str, Any] = {}
        if rnd.random() < 0.6:
            filters["agent"] = agent_key(s.learner(rnd.randint(1, 5)))
            filters["related_agents"] = rnd.random() < 0.5
        if rnd.random() < 0.5:
            filters["activity"] = f"http://x.example/a/{rnd.randint(1, 4)}"
            filters["related_activities"] = rnd.random() < 0.5
        if rnd.random() < 0.3:
            filters["verb"] = rnd.choice([s.viewed()["verb"]["id"], VOIDED,
                                          "http://x.example/verbs/confirmed"])
        if rnd.random() < 0.2 and registrations:
            filters["registration"] = rnd.choice(registrations)
        if rnd.random() < 0.3 and stored:
            filters["since"] = rnd.choice(stored)
        if rnd.random() < 0.3 and stored:
            filters["until"] = rnd.choice(stored)
        query = StatementQuery(ascending=rnd.random() < 0.5, limit=3, **filters)
        assert walked_ids(stores, query) == reference_ids(backend, query), filters
    if backend.server is None:
        pending, moved = (rows_of(backend, "caen", f"SELECT count(*) FROM {table}", [])[0][0]
                          for table in ("pending_keys", "keys"))
        # All moved; some moved, some not; none moved.
        assert (pending > 0, moved > 0) == ((False, True), (True, True), (True, False))[seed]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_page_plans_walk_indexes_without_sorting(stores: Backend, backend: LrsBackend) -> None:
    """No plan of a page builds the list of every match (`LIST SUBQUERY`) or sorts it (`TEMP
    B-TREE`): a page of a 10-million-statement store reads about `limit` index entries."""
    stores.statements.insert([s.viewed(1)], tenant="caen")
    agent = agent_key(s.learner(1))
    cases: list[dict[str, Any]] = [
        {}, {"verb": VOIDED}, {"agent": agent}, {"agent": agent, "related_agents": True},
        {"activity": "http://x.example/a", "related_activities": True, "verb": VOIDED},
        {"agent": agent, "related_agents": True, "activity": "http://x.example/a",
         "related_activities": True, "registration": str(uuid.uuid4())},
        {"since": "2026-01-01T00:00:00.000000Z", "until": "2027-01-01T00:00:00.000000Z"},
        {"verb": VOIDED, "since": "2026-01-01T00:00:00.000000Z", "authority": agent},
    ]
    for filters in cases:
        for ascending in (False, True):
            query = StatementQuery(ascending=ascending, after=5, bound=10, **filters)
            sql, params = page_sql(query, limit=100, terms="terms")
            plan = " / ".join(row[3] for row in rows_of(
                backend, "caen", "EXPLAIN QUERY PLAN " + sql, params))
            assert "TEMP B-TREE" not in plan and "LIST SUBQUERY" not in plan, (filters, plan)
            assert "SCAN k" not in plan and "SCAN keys" not in plan, (filters, plan)
            # SQLite's store also reads the rows not yet moved out of `pending_keys`: walked
            # by `seq` (a few thousand rows at most), merged in order with the others.
            sql, params = page_sql(query, limit=100, pending="pending_keys", terms="terms")
            plan = " / ".join(row[3] for row in rows_of(
                backend, "caen", "EXPLAIN QUERY PLAN " + sql, params))
            assert "TEMP B-TREE" not in plan and "LIST SUBQUERY" not in plan, (filters, plan)
            assert "SCAN" not in plan, (filters, plan)


# -- the consistency header -------------------------------------------------------------------


@contextmanager
def writer_busy(backend: LrsBackend, tenant: str) -> Iterator[None]:
    """Holds the tenant's write lock as a writer of another process would."""
    if backend.server is None:
        import fcntl

        descriptor = os.open(backend.root / "statements" / f"{tenant}.lock",
                             os.O_RDWR | os.O_CREAT)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            os.close(descriptor)
        return
    from vigie.lrs.postgres import lock_transaction

    with backend.server.connect() as conn, conn.transaction():
        lock_transaction(conn, f'statements:"lrs_{tenant}".')
        yield


def test_consistent_through_is_now_when_idle_else_the_newest_commit(
    stores: Backend, backend: LrsBackend
) -> None:
    """Idle, the header is the current time; while a writer holds the lock, the newest
    committed `stored` time (a statement being committed may be older than the clock); for a
    continuation, the newest `stored` time at its bound."""
    statements = stores.statements
    before = iso(datetime.now(UTC))
    assert before < statements.consistent_through(tenant="caen") <= iso(datetime.now(UTC))
    with writer_busy(backend, "caen"):
        assert statements.consistent_through(tenant="caen") == "1970-01-01T00:00:00.000000Z"
    first = statements.insert([s.viewed(n) for n in range(3)], tenant="caen")
    [last] = statements.insert([s.viewed(4)], tenant="caen")
    newest = statements.get(last, tenant="caen")["stored"]
    assert before < newest < statements.consistent_through(tenant="caen")
    assert statements.consistent_through(tenant="caen") <= iso(datetime.now(UTC))
    with writer_busy(backend, "caen"):
        assert statements.consistent_through(tenant="caen") == newest
    # at a continuation's bound (positions count from 1)
    assert statements.consistent_through(
        tenant="caen", bound=len(first)
    ) == statements.get(first[-1], tenant="caen")["stored"]


# -- group commit -----------------------------------------------------------------------------


def test_a_group_keeps_each_writes_own_outcome(
    stores: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes queued while the writer is busy are committed together, and a conflict in one
    of them is that write's 409 only: the others are stored."""
    store = stores.statements
    [kept] = store.insert([s.viewed(1)], tenant="caen")
    groups: list[int] = []
    release = threading.Event()
    commit = store._commit  # type: ignore[attr-defined]

    def slow_commit(tenant: str, writes: Any) -> Any:
        groups.append(len(writes))
        release.wait(timeout=30)
        return commit(tenant, writes)

    monkeypatch.setattr(store._writes, "_commit", slow_commit)  # type: ignore[attr-defined]
    first = store.submit([s.viewed(2)], {}, tenant="caen")
    while not groups:
        time.sleep(0.01)
    queued = [
        store.submit([s.viewed(3)], {}, tenant="caen"),
        store.submit([{**s.viewed(4), "id": kept}], {}, tenant="caen"),  # a conflict
        store.submit([s.viewed(5), s.viewed(6)], {}, tenant="caen"),
    ]
    release.set()
    assert len(first.result(timeout=30)) == 1
    assert len(queued[0].result(timeout=30)) == 1
    with pytest.raises(Conflict):
        queued[1].result(timeout=30)
    assert len(queued[2].result(timeout=30)) == 2
    assert groups == [1, 3]
    assert len(ids_of(stores)) == 5


def test_statements_stored_with_the_former_digest_are_still_recognised(
    stores: Backend, backend: LrsBackend
) -> None:
    """Stores written before the comparison digest moved to orjson hold the former one: the
    same statement sent again is a no-op there too, a different one still a 409."""
    statement = {**s.viewed(1), "id": str(uuid.uuid4())}
    stores.statements.insert([statement], tenant="caen")
    legacy = legacy_comparison_digest(
        {**validate_statements([statement])[0], "id": statement["id"]})
    assert legacy != comparison_digest({**validate_statements([statement])[0],
                                        "id": statement["id"]})
    update = "UPDATE {p}statements SET digest = ? WHERE id = ? RETURNING id"
    assert rows_of(backend, "caen", update, [legacy, statement["id"]])
    assert stores.statements.insert([statement], tenant="caen") == [statement["id"]]
    with pytest.raises(Conflict):
        stores.statements.insert([{**s.viewed(2), "id": statement["id"]}], tenant="caen")


def index_rows_as_text(db: sqlite3.Connection) -> None:
    """Rewrites the index rows of an embedded store as they were before `terms`: each with its
    kind, value and broadness."""
    for table, columns in (("keys", "kind, value, broad, seq"),
                           ("pending_keys", "seq, kind, value, broad")):
        db.execute(f"CREATE TABLE former ({columns.replace(',', ' NOT NULL,')} NOT NULL, "
                   f"PRIMARY KEY ({columns})) WITHOUT ROWID")
        db.execute(f"INSERT INTO former SELECT {columns} FROM terms JOIN {table} USING (term)")
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE former RENAME TO {table}")
    db.execute("DROP TABLE terms")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_store_whose_index_rows_were_text_is_upgraded(
    backend: LrsBackend, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written before index terms were numbered (rows in `keys` and others still in
    `pending_keys`) is upgraded when opened: every filter finds what it found before, and new
    statements are indexed with the numbers the upgrade gave."""
    monkeypatch.setattr(sqlite_store, "_PENDING_ROWS", 60)  # some rows moved, some not
    rnd = random.Random(7)
    stores = backend.open()
    for batch in random_batches(7):
        with contextlib.suppress(BadRequest, Conflict):
            stores.statements.insert(batch, tenant="caen")
        stores.statements.insert([plain(rnd) for _ in range(8)], tenant="caen")
    monkeypatch.setattr(sqlite_store, "_PENDING_ROWS", 10**9)
    stores.statements.insert([plain(rnd) for _ in range(8)], tenant="caen")
    queries = [StatementQuery(ascending=True, limit=0, agent=agent_key(s.learner(n)),
                              related_agents=related)
               for n in (1, 2, 3) for related in (False, True)]
    queries += [StatementQuery(ascending=True, limit=0, activity=f"http://x.example/a/{n}",
                               related_activities=True) for n in (1, 2)]
    before = [walked_ids(stores, query) for query in queries]
    stores.close()
    path = backend.root / "statements" / "caen.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        assert db.execute("SELECT count(*) FROM pending_keys").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM keys").fetchone()[0] > 0
        index_rows_as_text(db)
    stores = backend.open()
    try:
        assert [walked_ids(stores, query) for query in queries] == before
        assert "numbering the index terms" in caplog.text
        later = plain(rnd)
        [later_id] = stores.statements.insert([later], tenant="caen")
        assert later_id in walked_ids(stores, StatementQuery(
            agent=agent_key(later["actor"]), ascending=True, limit=0))
    finally:
        stores.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_store_written_with_the_former_keys_by_seq_index_is_upgraded(
    backend: LrsBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """Before `statements.inherited`, a StatementRef's inherited rows were found through an
    index of `keys` by `seq`: opening such a store records them and drops the index, and a
    StatementRef to that StatementRef still inherits its target's target's rows."""
    target = s.viewed(1, id=str(uuid.uuid4()))
    early = {**ref(target["id"]), "id": str(uuid.uuid4())}
    stores = backend.open()
    stores.statements.insert([early], tenant="caen")
    stores.statements.insert([target], tenant="caen")  # `early` inherits its rows now
    stores.statements.close()
    path = backend.root / "statements" / "caen.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db, db:  # as the former code wrote it
        index_rows_as_text(db)
        db.execute("INSERT OR IGNORE INTO keys SELECT kind, value, broad, seq FROM pending_keys")
        db.execute("DELETE FROM pending_keys")
        db.execute("ALTER TABLE statements DROP COLUMN inherited")
        db.execute("CREATE INDEX keys_seq ON keys(seq)")
    stores = backend.open()
    try:
        later = {**ref(early["id"]), "id": str(uuid.uuid4())}
        stores.statements.insert([later], tenant="caen")
        assert "upgrading" in caplog.text and "caen.sqlite" in caplog.text
        activity = target["object"]["id"]
        assert ids_of(stores, activity=activity) == [early["id"], target["id"], later["id"]]
    finally:
        stores.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'keys_seq'"
                          ).fetchone() == (0,)
        [(inherited,)] = db.execute("SELECT inherited FROM statements WHERE id = ?",
                                    (early["id"],)).fetchall()
        expected = own_keys(validate_statements([target])[0]) - own_keys(
            validate_statements([early])[0])
        assert {(kind, value, broad) for kind, value, broad in json.loads(inherited)} == expected


def test_statements_sent_without_id_get_time_ordered_uuids(stores: Backend) -> None:
    """Ids the LRS gives are UUIDs of version 7 (RFC 4122 variant, which xAPI accepts): they
    start with the time in milliseconds, so they land at the end of the stores' id index, and
    a client can send them back as they are."""
    before = time.time_ns() // 1_000_000
    first = stores.statements.insert([s.viewed(n) for n in range(50)], tenant="caen")
    time.sleep(0.002)
    [later] = stores.statements.insert([s.viewed(99)], tenant="caen")
    after = time.time_ns() // 1_000_000
    for statement_id in [*first, later]:
        parsed = uuid.UUID(statement_id)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert before <= parsed.int >> 80 <= after
    assert len(set(first)) == 50 and max(first) < later
    stored = stores.statements.get(later, tenant="caen")
    assert validate_statements([stored])[0]["id"] == later


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_log_is_synced_before_statements_are_acknowledged(
    stores: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded store commits without syncing (so the next writer need not wait for the
    disk) and syncs the log before answering: every acknowledged statement was in the log when
    it was synced, and a log new since the last sync also gets its folder synced."""
    synced: list[tuple[str, int]] = []  # (what was synced, log size then)
    real_fsync, real_fdatasync = os.fsync, os.fdatasync

    def note(kind: str, sync: Any) -> Any:
        def wrapper(descriptor: int) -> None:
            synced.append((kind, os.fstat(descriptor).st_size))
            sync(descriptor)
        return wrapper

    monkeypatch.setattr(os, "fsync", note("folder", real_fsync))
    monkeypatch.setattr(os, "fdatasync", note("log", real_fdatasync))
    log = stores.statements.root / "caen.sqlite-wal"  # type: ignore[attr-defined]
    for n in range(3):
        synced.clear()
        [statement_id] = stores.statements.insert([s.viewed(n)], tenant="caen")
        assert synced[-1] == ("log", log.stat().st_size), "synced after the commit"
        assert ("folder" in dict(synced)) == (n == 0), "the folder once, for a new log"
        assert stores.statements.get(statement_id, tenant="caen")["id"] == statement_id
    with contextlib.closing(sqlite3.connect(log.with_name("caen.sqlite"))) as db:
        assert db.execute("SELECT count(*) FROM statements").fetchone() == (3,)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_reopened_store_numbers_known_terms_without_a_query(backend: LrsBackend) -> None:
    """The embedded store's writer reads the numbers of the stored index terms when it opens
    the store: writing statements of known agents, activities and verbs then asks nothing of
    the `terms` table (a new term is still numbered, once)."""
    stores = backend.open()
    stores.statements.insert([s.viewed(n) for n in range(3)], tenant="caen")
    stores.close()
    stores = backend.open()
    try:
        database = stores.statements._database("caen")  # type: ignore[attr-defined]
        asked: list[str] = []
        database.writer.set_trace_callback(asked.append)
        stores.statements.insert([s.viewed(n) for n in range(3)], tenant="caen")
        assert not [sql for sql in asked if "terms" in sql]
        novel = {**s.viewed(1), "object": {"id": "http://x.example/a/new"}}
        [novel_id] = stores.statements.insert([novel], tenant="caen")
        assert len([sql for sql in asked if "INSERT OR IGNORE INTO terms" in sql]) == 1
        assert ids_of(stores, activity="http://x.example/a/new") == [novel_id]
    finally:
        stores.close()
