"""French academic calendar: weekdays, public and school holidays, academic years."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from vigie.errors import ConfigError
from vigie.referential.calendar import CALENDAR_SCHEMA, calendar_table, school_holiday_years


def _row(day: dt.date, zone: str = "B") -> dict[str, object]:
    row: dict[str, object] = calendar_table(
        pa.array([day], pa.date32()), school_zone=zone
    ).to_pylist()[0]
    return row


def test_referential_calendar_schema_and_order() -> None:
    days = [dt.date(2016, 1, 3), dt.date(2015, 9, 1), dt.date(2015, 8, 31)]
    table = calendar_table(pa.array(days, pa.date32()))
    assert table.schema == CALENDAR_SCHEMA
    assert table["date"].to_pylist() == days
    assert table["academic_year"].to_pylist() == ["2015-2016", "2015-2016", "2014-2015"]


def test_referential_calendar_weekday_iso() -> None:
    days = [dt.date(2015, 5, 18) + dt.timedelta(days=i) for i in range(7)]  # Monday..Sunday
    table = calendar_table(pa.array(days, pa.date32()))
    assert table["weekday"].type == pa.int8()
    assert table["weekday"].to_pylist() == [1, 2, 3, 4, 5, 6, 7]


def test_referential_calendar_public_holidays_in_french() -> None:
    assert _row(dt.date(2015, 12, 25))["public_holiday_name"] == "Noël"
    assert _row(dt.date(2016, 7, 14))["is_public_holiday"] is True
    ascension = _row(dt.date(2015, 5, 14))  # moveable feast
    assert ascension["is_public_holiday"] is True
    assert ascension["public_holiday_name"] == "Ascension"
    ordinary = _row(dt.date(2015, 5, 13))
    assert ordinary["is_public_holiday"] is False
    assert ordinary["public_holiday_name"] is None
    # Metropolitan France only: Saint-Étienne (26 Dec) is an Alsace-Moselle holiday.
    assert _row(dt.date(2015, 12, 26))["is_public_holiday"] is False


def test_referential_calendar_school_holidays_by_zone() -> None:
    # Winter 2016: zone B from 6 to 21 February, zone A from 13 to 28, zone C from 20.
    day = dt.date(2016, 2, 8)
    assert _row(day, "B")["is_school_holiday"] is True
    assert _row(day, "A")["is_school_holiday"] is False
    assert _row(day, "c")["is_school_holiday"] is False  # zone letter is case-insensitive
    assert _row(dt.date(2015, 12, 28))["is_school_holiday"] is True  # Christmas, all zones


def test_referential_calendar_weekend_is_not_school_holiday() -> None:
    saturday = _row(dt.date(2015, 11, 21))
    assert saturday["weekday"] == 6
    assert saturday["is_school_holiday"] is False


def test_referential_calendar_outside_school_data_is_false() -> None:
    first, last = school_holiday_years()
    assert first <= 2015 <= last
    for day in (dt.date(first - 5, 8, 1), dt.date(last + 5, 8, 1)):
        row = _row(day)
        assert row["is_school_holiday"] is False
        assert row["is_public_holiday"] is False
    assert _row(dt.date(last + 5, 1, 1))["public_holiday_name"] == "Jour de l'an"


def test_referential_calendar_nulls_timestamps_and_bad_zone() -> None:
    table = calendar_table(pa.array([None, dt.date(2015, 1, 1)], pa.date32()))
    assert table.to_pylist()[0] == dict.fromkeys(CALENDAR_SCHEMA.names)
    stamps = pa.array([dt.datetime(2015, 1, 1, 0, 0)], pa.timestamp("s"))
    assert calendar_table(stamps)["date"].to_pylist() == [dt.date(2015, 1, 1)]
    with pytest.raises(ConfigError, match="school_zone"):
        calendar_table(pa.array([dt.date(2015, 1, 1)]), school_zone="D")
    with pytest.raises(ConfigError, match="not dates"):
        calendar_table(pa.array([1.5]))
