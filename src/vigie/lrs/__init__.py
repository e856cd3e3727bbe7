"""A Learning Record Store (xAPI 1.0.3 and 2.0.0) for vigie: statements in, indexed, queried
per tenant.

Modules, from the data to the wire:

    versions      the xAPI versions served and what differs between them
    models        strict pydantic models of statements (what is valid)
    errors        LRS errors and field-naming messages
    validation    request bodies → validated statements
    formats       identifier keys, ids/canonical formats, comparison for immutability
    store         the StatementStore protocol and query/continuation objects
    statement_batch, statement_query
                  what storing and querying statements means, shared by both backends
    sqlite_store  embedded store: one SQLite file per tenant
    postgres, pg_store, pg_documents
                  production store: PostgreSQL, one schema per tenant
    backend       opens either backend (registry, statements, documents)
    tenants       tenants and hashed credentials (root/tenants.sqlite or schema lrs)
    auth          HTTP Basic authentication with a verified-secret cache
    app           the FastAPI application (create_app)
"""

from __future__ import annotations

__all__: list[str] = []
