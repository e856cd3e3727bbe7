"""French academic calendar of a set of dates: weekday, public and school holidays, year.

Why: usage of university services follows the academic rhythm (holidays, exam periods,
the September start), so every event is tagged with its calendar context. The table is built
for the DISTINCT dates of a chunk with arrow kernels; the two holiday sources are turned into
sets of dates once and matched with ``is_in`` / ``index_in``.

Sources, both offline:

* public holidays: ``holidays.France`` (metropolitan France: no Alsace-Moselle or overseas
  subdivision), names in French;
* school holidays: ``vacances_scolaires_france`` (data shipped with the package, per zone A, B
  or C, daily, weekends included inside a holiday period). Its data covers a fixed range of
  years (1990-2028 in version 0.12); a date outside that range is reported as *not* a school
  holiday rather than failing, see :func:`school_holiday_years`.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib.resources import as_file, files

import holidays
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from vigie.errors import ConfigError

__all__ = [
    "CALENDAR_SCHEMA", "SCHOOL_ZONES", "calendar_table", "school_holiday_dates",
    "school_holiday_years",
]

SCHOOL_ZONES = ("A", "B", "C")

CALENDAR_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32()),
        pa.field("weekday", pa.int8()),
        pa.field("is_public_holiday", pa.bool_()),
        pa.field("is_school_holiday", pa.bool_()),
        pa.field("academic_year", pa.string()),
        pa.field("public_holiday_name", pa.string()),
    ]
)

#: Month an academic year starts in (1 September).
_ACADEMIC_START_MONTH = 9


@cache
def _school_data() -> pa.Table:
    """The school-holiday data shipped with ``vacances_scolaires_france``: one row per day
    with one boolean per zone (``vacances_zone_a``…), holiday days only.

    Read with Arrow's CSV reader, once per process: the package's own loader parses each of
    its 14,000 rows in Python (0.2 s, a tenth of the start of an ingestion run).
    """
    source = files("vacances_scolaires_france") / "data" / "data.csv"
    with as_file(source) as path:
        zones = [_zone_column(zone) for zone in SCHOOL_ZONES]
        table = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(
            column_types={"date": pa.date32()} | dict.fromkeys(zones, pa.bool_()),
            include_columns=["date", *zones],
        ))
    any_zone = pc.or_(pc.or_(table.column(1), table.column(2)), table.column(3))
    return table.filter(any_zone)


def _zone_column(zone: str) -> str:
    return f"vacances_zone_{zone.lower()}"


def school_holiday_years() -> tuple[int, int]:
    """First and last calendar year covered by the school-holiday data."""
    years = pc.min_max(pc.year(_school_data().column("date")))
    return int(years["min"].as_py()), int(years["max"].as_py())


@cache
def school_holiday_dates(zone: str) -> pa.Array:
    """All school-holiday dates of one zone (``A``, ``B`` or ``C``), as a date32 array."""
    data = _school_data()
    return data.column("date").filter(data.column(_zone_column(zone))).combine_chunks()


def _public_holidays(years: list[int]) -> tuple[pa.Array, pa.Array]:
    """(dates, French names) of metropolitan public holidays for the given years."""
    table = holidays.country_holidays("FR", years=years, language="fr")
    items: list[tuple[dt.date, str]] = sorted(table.items())
    return (
        pa.array([day for day, _ in items], pa.date32()),
        pa.array([name for _, name in items], pa.string()),
    )


def calendar_table(dates: pa.Array | pa.ChunkedArray, *, school_zone: str = "B") -> pa.Table:
    """One row per input date (same order) with its calendar context.

    Columns: date (date32), weekday (int8, ISO: 1 = Monday .. 7 = Sunday), is_public_holiday,
    is_school_holiday (for ``school_zone``), academic_year (``'2015-2016'`` from 1 September),
    public_holiday_name (NULL on ordinary days). A NULL date gives NULL in every column.
    """
    zone = school_zone.strip().upper() if isinstance(school_zone, str) else school_zone
    if zone not in SCHOOL_ZONES:
        raise ConfigError(
            f"calendar: school_zone must be one of {', '.join(SCHOOL_ZONES)}, got {school_zone!r}"
        )
    if isinstance(dates, pa.ChunkedArray):
        dates = dates.combine_chunks()
    if dates.type != pa.date32():
        try:
            dates = dates.cast(pa.date32())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ConfigError(f"calendar: dates of type {dates.type} are not dates") from exc
    missing = pc.is_null(dates)
    years = pc.year(dates)
    distinct_years = [y for y in pc.unique(years).to_pylist() if y is not None]
    holiday_days, holiday_names = _public_holidays(sorted(distinct_years))
    position = pc.index_in(dates, value_set=holiday_days)
    is_public = pc.if_else(missing, None, pc.is_valid(position))
    is_school = pc.if_else(missing, None, pc.is_in(dates, value_set=school_holiday_dates(zone)))
    start = pc.subtract(years, pc.cast(pc.less(pc.month(dates), _ACADEMIC_START_MONTH), pa.int64()))
    academic_year = pc.binary_join_element_wise(
        pc.cast(start, pa.string()), pc.cast(pc.add(start, 1), pa.string()), "-"
    )
    weekday = pc.cast(pc.day_of_week(dates, count_from_zero=False, week_start=1), pa.int8())
    return pa.table(
        [
            dates,
            weekday,
            is_public,
            is_school,
            academic_year,
            pc.take(holiday_names, position),
        ],
        schema=CALENDAR_SCHEMA,
    )
