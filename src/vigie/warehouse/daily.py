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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DAILY_KEYS", "daily_rows", "daily_sql"]

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


#: The keys the other daily keys depend on: a person's population, structure and étape on a
#: day come from that day's directory snapshot, the calendar columns from the day, and a chunk
#: of events has one source.
_DETERMINING = ("service", "day", "user_pseudo", "zone", "device")


def daily_rows(events: pa.Table) -> pa.Table:
    """The daily rows of a table of events (with `service` and `month`), as `daily_sql` would.

    Grouping on the few determining keys, each encoded as integers first, is several times
    cheaper than hashing every key's text; the other keys are read from each group's first row.
    """
    codes = {
        name: (column if name == "day" else pc.dictionary_encode(column).indices)
        for name in _DETERMINING
        for column in [events.column(name).combine_chunks()]
    }
    groups = pa.table(codes).append_column(
        "_row", pa.array(np.arange(events.num_rows, dtype=np.int64)),
    ).group_by(list(_DETERMINING), use_threads=False).aggregate(
        [("_row", "min"), ("_row", "count")])
    first = events.select([*DAILY_KEYS, "service", "month"]).take(groups.column("_row_min"))
    return first.append_column("events", pc.cast(groups.column("_row_count"), pa.int64()))
