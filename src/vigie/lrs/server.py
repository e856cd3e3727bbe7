"""Running the LRS under uvicorn: one process, or several worker processes on one port.

Why several processes: validating, digesting and writing JSON are Python code, which runs on
one core per process; a single process saturates one core long before the disk. With
`workers > 1`, uvicorn starts that many processes sharing the listening socket (and restarts
one that dies); each opens its own stores over the same storage. What keeps the stores right
across processes is in the stores: SQLite writers of a tenant take turns on its lock file
(`sqlite_store`), PostgreSQL writers on an advisory lock (`pg_store`); statements get their
`seq` and `stored` values in commit order either way, so ids, conflicts, `more` cursors and
the consistency header do not depend on which process answers.

Why the garbage collector is tuned (`_tune_gc`): a batch of statements is thousands of short-
lived dictionaries, which reference counting frees; but every 700 allocations CPython's cyclic
collector runs, and its full collections walk every object of the process (FastAPI's and
pydantic's included). Freezing what exists once the application is built and collecting
young objects every 50,000 allocations instead cut the parsing and validation time of a batch
by about a third, measured, for memory that stays bounded (cycles are still collected).

Why settings travel in an environment variable: uvicorn's worker processes are started
afresh (spawned, not forked) and build the application by calling `worker_app`, which can
only read what the parent left in their environment. The PostgreSQL password is not among
them: each worker reads it from the variable named by `password_env`, as the parent does.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from vigie.config import password_from_env
from vigie.lrs.app import create_app
from vigie.lrs.backend import Backend, open_backend
from vigie.lrs.versions import XapiVersion

__all__ = ["SETTINGS_ENV", "ServeSettings", "serve", "worker_app"]

#: The environment variable carrying `ServeSettings` to worker processes (JSON).
SETTINGS_ENV = "VIGIE_LRS_SERVE_SETTINGS"
#: How long uvicorn's supervisor waits for a worker to answer its health check before killing
#: and replacing it (uvicorn's default: 5 s). A worker validating a large batch on a machine
#: whose cores are all busy can be seconds late without being stuck, and killing it resets
#: every connection it serves (requests already acknowledged stay stored, the others are lost
#: to their clients); a worker really hung is still replaced.
WORKER_HEALTHCHECK_SECONDS = 30


@dataclass(frozen=True)
class ServeSettings:
    """What `vigie lrs serve` was asked to serve, besides where to listen."""

    root: str
    database: str | None = None
    password_env: str | None = None
    max_body_bytes: int = 10 << 20
    max_limit: int = 500
    default_version: XapiVersion = "1.0.3"

    def open(self) -> tuple[FastAPI, Backend]:
        """The application over newly opened stores (closed by the caller)."""
        stores = open_backend(
            Path(self.root), database=self.database,
            password=password_from_env(self.password_env, key="--password-env"),
            max_limit=self.max_limit,
        )
        app = create_app(
            Path(self.root), registry=stores.registry, store=stores.statements,
            documents=stores.documents, max_body_bytes=self.max_body_bytes,
            max_limit=self.max_limit, default_version=self.default_version,
        )
        return app, stores


def _tune_gc() -> None:
    """Leaves the objects built so far out of collections, and collects less often (see the
    module's docstring)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def worker_app() -> FastAPI:
    """The application of one worker process, from the settings its parent left in
    `SETTINGS_ENV`; its stores close when the process exits."""
    settings = ServeSettings(**json.loads(os.environ[SETTINGS_ENV]))
    app, stores = settings.open()
    atexit.register(stores.close)
    _tune_gc()
    return app


def serve(settings: ServeSettings, *, host: str, port: int, workers: int = 1) -> None:
    """Serves until interrupted. One worker runs in this process, on stores it opens first
    (so a database that cannot be reached stops the command at once); more run as uvicorn
    worker processes, each checking the same when it starts."""
    options = {"host": host, "port": port, "log_level": "warning", "access_log": False}
    if workers == 1:
        app, stores = settings.open()
        _tune_gc()
        try:
            uvicorn.run(app, **options)  # type: ignore[arg-type]
        finally:
            stores.close()
        return
    settings.open()[1].close()  # fail here, once, rather than in every worker
    os.environ[SETTINGS_ENV] = json.dumps(asdict(settings))
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=workers,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
                **options)  # type: ignore[arg-type]
