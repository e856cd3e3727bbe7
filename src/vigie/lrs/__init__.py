"""A Learning Record Store (xAPI 1.0.3) for vigie: statements in, indexed, queried per tenant.

Modules, from the data to the wire:

    models        strict pydantic models of statements (what is valid)
    errors        LRS errors and field-naming messages
    validation    request bodies → validated statements
    formats       identifier keys, ids/canonical formats, comparison for immutability
    store         the StatementStore protocol and query/continuation objects
    sqlite_store  embedded store: one SQLite file per tenant
    tenants       tenants and hashed credentials (root/tenants.sqlite)
    auth          HTTP Basic authentication with a verified-secret cache
    app           the FastAPI application (create_app)
"""

from __future__ import annotations

__all__: list[str] = []
