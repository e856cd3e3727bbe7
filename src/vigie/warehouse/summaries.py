"""Summaries of the lake for dashboards: small tables whose size follows people, not events.

Counting distinct people over a year from the `daily` table means hashing tens of millions of
rows; dashboards must answer in a fraction of a second. Each summary keeps exactly what some
indicators need, exactly (no sampling, no approximate counts):

* `last_seen`: per person and segment, the last day they were seen. The people active from a
  day `d` to now are those whose `last_day >= d`, and the dashboards' periods (this academic
  year, this month, this week, everything) all end today: one row per person and segment
  instead of one per person, segment and day.
* `first_seen`: per person, segment and month, the first day they were seen in that month. A
  person's first day in a period of whole months (this academic year, this month, everything)
  is the earliest of those months' rows: a launch curve reads a few rows per person, one file
  per service, where the `daily` table holds one row per person and day in many small files.
* `last_seen_hours`: per person, weekday and local hour, the last day: the weekly rhythm's
  distinct people, counted as rows (each key is unique once compacted).
* `daily_events`: events per day and segment, without people.
* `service_days`: distinct people and events per service and day.
* `service_hours`: events per service, day and local hour.
* `service_weeks`: distinct people per service and ISO week (Monday to Sunday). A week is one
  row whatever months it spans, so the weekly trend reads 50 rows a year instead of counting
  the people of tens of millions of daily rows; compaction recomputes the weeks that meet a
  month with new rows.
* `source_hours`: events per source, format, day and local hour, with the first and last
  instants (`ts`) among them: the collection's health reads the first event of a day and each
  source's last event from it, where the events table costs a listing of all its files.

Compaction (`vigie.warehouse.compact`) folds the files each ingestion writes (`part-*`) into the
summaries, one file per service. A summary is exact only while every file of its source table
is folded; the views (`vigie.warehouse.layout`) read it only then, and indicators read the
per-day tables otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["SEGMENT", "SUMMARIES", "WEEK_START", "Summary"]

#: Columns of a person's segment in `daily`: what dashboards filter and group people by.
SEGMENT = ("population", "structure", "structure_label", "etape", "cursus_year", "zone",
           "device", "source")
#: Calendar columns of a day (functions of `day`).
CALENDAR = ("weekday", "is_public_holiday", "is_school_holiday", "academic_year")


@dataclass(frozen=True)
class Summary:
    """One summary table: which rows of which lake table it sums, by `service` and `keys`."""

    name: str
    source: Literal["daily", "events"]
    keys: tuple[str, ...]
    #: (column, aggregate over source rows, aggregate merging summary rows or None when the
    #: measure does not merge: the summary is then recomputed for each month with new rows)
    measures: tuple[tuple[str, str, str | None], ...]
    #: Which source rows it sums (people only, for the summaries of people).
    where: str = "true"
    #: How compaction sorts its files: a person's rows together make distinct counts two to
    #: three times faster (and the file three times smaller); days together let a period skip
    #: row groups.
    order: tuple[str, ...] = ()
    #: Key columns computed from the source rows: (name, SQL expression both engines run).
    derived: tuple[tuple[str, str], ...] = ()
    #: For a summary whose rows are not days (weeks): the period's condition on the source rows
    #: and on the summary's rows, which must keep the same whole rows. None: the usual one on
    #: `day` (or on `last_day`, see `day`).
    window: tuple[str, str] | None = None

    @property
    def mergeable(self) -> bool:
        """Whether rows of the summary merge (else it is recomputed month by month)."""
        return all(merge is not None for _, _, merge in self.measures)

    @property
    def columns(self) -> tuple[str, ...]:
        """Its columns: `service`, the keys, the measures."""
        return ("service", *self.keys, *(column for column, _, _ in self.measures))

    @property
    def day(self) -> str:
        """Its column of days: `day`, `week_start` for weeks, or for the summaries of people's
        first or last days their only measure, `first_day` or `last_day`."""
        return next((k for k in ("day", "week_start") if k in self.keys), self.measures[0][0])

    def select(self, relation: str) -> str:
        """The summary of the source rows in `relation` (which has `service` and `month`)."""
        keys = ", ".join(("service", *self.keys))
        measures = ", ".join(f"{aggregate} AS {column}" for column, aggregate, _ in self.measures)
        if self.derived:
            extra = ", ".join(f"{expression} AS {name}" for name, expression in self.derived)
            relation = f"(SELECT *, {extra} FROM {relation})"
        return (f"SELECT {keys}, {measures} FROM {relation} WHERE {self.where} "
                f"GROUP BY {keys}")

    def merge(self, relation: str) -> str:
        """Rows of the summary in `relation` merged to one per key (mergeable summaries)."""
        keys = ", ".join(("service", *self.keys))
        measures = ", ".join(f"{merge} AS {column}" for column, _, merge in self.measures)
        return f"SELECT {keys}, {measures} FROM {relation} GROUP BY {keys}"


_FIRST_DAY = (("first_day", "min(day)", "min(first_day)"),)
_LAST_DAY = (("last_day", "max(day)", "max(last_day)"),)
_PEOPLE = "user_pseudo IS NOT NULL"
#: The Monday of a day's ISO week (`weekday` is 1 on Mondays).
WEEK_START = "day - (weekday - 1)"
#: The weeks a weekly indicator may show for a period, and the ones it compares them with:
#: every week that meets the period, the week before, and the same week a year earlier (371
#: days before at most, for a week 53). On the daily rows, every day of those weeks; on the
#: summary, those weeks: the same whole weeks either way.
_WEEKS = (
    "($start IS NULL OR day >= CAST($start AS DATE) - 377) "
    "AND ($end IS NULL OR day <= CAST($end AS DATE) + 6)",
    "($start IS NULL OR week_start >= CAST($start AS DATE) - 377) "
    "AND ($end IS NULL OR week_start <= $end)",
)

SUMMARIES = (
    Summary("last_seen", "daily", ("user_pseudo", *SEGMENT), _LAST_DAY, where=_PEOPLE,
            order=("user_pseudo",)),
    Summary("first_seen", "daily", ("month", "user_pseudo", *SEGMENT), _FIRST_DAY,
            where=_PEOPLE, order=("user_pseudo",)),
    Summary("last_seen_hours", "events", ("user_pseudo", "weekday", "hour"), _LAST_DAY,
            where=_PEOPLE),
    Summary("daily_events", "daily", ("month", "day", *CALENDAR, *SEGMENT),
            (("events", "sum(events)", "sum(events)"),), order=("day",)),
    Summary("service_days", "daily", ("month", "day", *CALENDAR),
            (("users", "count(DISTINCT user_pseudo)", None), ("events", "sum(events)", None)),
            order=("day",)),
    Summary("service_hours", "events", ("month", "day", "weekday", "hour"),
            (("events", "count(*)", "sum(events)"),), order=("day",)),
    Summary("service_weeks", "daily", ("week_start",),
            (("users", "count(DISTINCT user_pseudo)", None),), order=("week_start",),
            derived=(("week_start", WEEK_START),), window=_WEEKS),
    Summary("source_hours", "events", ("month", "day", "hour", "source", "format"),
            (("events", "count(*)", "sum(events)"), ("first_ts", "min(ts)", "min(first_ts)"),
             ("last_ts", "max(ts)", "max(last_ts)")), order=("day",)),
)
