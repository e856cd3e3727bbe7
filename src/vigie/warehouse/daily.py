"""The daily table: one row per person, service, day and segment, kept in step by ingestion.

Dashboards count distinct people over periods; reading every event for that is too slow at a
national scale. A (day, person, segment) row keeps exactly what those counts need — distinct
counts over any period are still exact — with the number of events, typically a tenth of the
event rows or less.

Ingestion writes each chunk's daily rows in the same transaction as its events (see
`vigie.ingest.run`): a person active in several chunks of a day has several rows, which is
harmless (`sum(events)`, `count(DISTINCT user_pseudo)`), and the table always equals the
aggregation of the events, even after a crash.
"""

from __future__ import annotations

__all__ = ["DAILY_KEYS", "daily_sql"]

#: The columns a daily row is keyed by (with `service` and `month`, its partition).
DAILY_KEYS = (
    "day", "user_pseudo", "population", "structure", "structure_label", "etape",
    "cursus_year", "zone", "device", "weekday", "is_public_holiday", "is_school_holiday",
    "academic_year", "source",
)


def daily_sql(events: str, *, partition_keys: bool = False) -> str:
    """The aggregation of a relation of events into daily rows (`events` = their count).

    With `partition_keys`, `service` and `month` are kept too (a view over the whole lake).
    """
    keys = ", ".join((*DAILY_KEYS, "service", "month") if partition_keys else DAILY_KEYS)
    return f"SELECT {keys}, count(*) AS events FROM {events} GROUP BY {keys}"
