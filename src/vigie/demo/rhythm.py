"""When people use the services: the academic calendar, the week and the hours of the day.

The calendar is computed once per day of the window (a few hundred Python steps); event times
are then drawn for all events at once from the (day, hour) weight grid with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import numpy.typing as npt

__all__ = ["HOUR_WEEKDAY", "HOUR_WEEKEND", "Calendar", "build_calendar"]

#: Relative activity per local hour, Monday to Friday: low nights, peaks 8-12h and 13-18h.
HOUR_WEEKDAY = np.array(
    [0.14, 0.07, 0.04, 0.03, 0.03, 0.07, 0.3, 0.95, 2.3, 2.9, 3.0, 2.7, 1.6, 2.3, 2.7, 2.6,
     2.4, 1.9, 1.4, 1.15, 1.05, 0.95, 0.65, 0.32],
    dtype=np.float64,
)  # fmt: skip
#: Saturday and Sunday: a late morning and a long evening.
HOUR_WEEKEND = np.array(
    [0.25, 0.14, 0.08, 0.05, 0.04, 0.05, 0.1, 0.25, 0.6, 1.0, 1.3, 1.4, 1.1, 1.1, 1.3, 1.4,
     1.4, 1.4, 1.5, 1.5, 1.6, 1.6, 1.1, 0.55],
    dtype=np.float64,
)  # fmt: skip

_PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Calendar:
    """The window's days with their weights and the local/UTC relation of each hour.

    `day_start` is midnight of each day as local wall-clock seconds since 1970 (naive),
    `offset` the UTC offset in seconds of each (day, hour), `academic` the academic-calendar
    factor of each day (public holidays included) and `holiday` whether it is in the zone's
    school holidays.
    """

    days: list[date]
    day_start: npt.NDArray[np.int64]
    weekday: npt.NDArray[np.int64]
    academic: npt.NDArray[np.float64]
    holiday: npt.NDArray[np.bool_]
    offset: npt.NDArray[np.int64]  # shape (days, 24)

    def slot_weights(
        self,
        weekday_factor: tuple[float, ...],
        evening: tuple[float, ...],
        holiday_factor: float,
    ) -> npt.NDArray[np.float64]:
        """(days, 24) weights of a service, normalised to sum to 1."""
        wd = np.asarray(weekday_factor, dtype=np.float64)[self.weekday]
        day = self.academic * wd * np.where(self.holiday, holiday_factor, 1.0)
        hours = np.where((self.weekday >= 5)[:, None], HOUR_WEEKEND, HOUR_WEEKDAY)
        boost = np.ones((len(self.days), 24))
        boost[:, 18:23] = np.asarray(evening, dtype=np.float64)[self.weekday][:, None]
        grid = day[:, None] * hours * boost
        return np.asarray(grid / grid.sum(), dtype=np.float64)

    def draw(
        self, rng: np.random.Generator, weights: npt.NDArray[np.float64], size: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """`size` local wall-clock times (seconds, naive) and their UTC offsets (seconds)."""
        flat = weights.ravel()
        slots = rng.choice(flat.size, size=size, p=flat)
        day, hour = np.divmod(slots, 24)
        local = self.day_start[day] + hour * 3600 + rng.integers(0, 3600, size=size)
        return local.astype(np.int64), self.offset[day, hour]


def _school_holidays(days: list[date], zone: str) -> set[date]:
    """Zone's school holidays from `vacances-scolaires-france`, or a typical calendar."""
    from vigie.referential.calendar import (
        SCHOOL_ZONES,
        school_holiday_dates,
        school_holiday_years,
    )

    if zone not in SCHOOL_ZONES:
        return {d for d in days if _typical_holiday(d)}
    first, last = school_holiday_years()
    official = set(school_holiday_dates(zone).to_pylist())
    # Outside the package's years: a typical calendar.
    return {d for d in days
            if (d in official if first <= d.year <= last else _typical_holiday(d))}


def _typical_holiday(d: date) -> bool:
    """An approximate zone B calendar for years the official data does not cover."""
    m, dd = d.month, d.day
    return (
        (m == 10 and dd >= 19)
        or (m == 11 and dd <= 3)
        or (m == 12 and dd >= 20)
        or (m == 1 and dd <= 4)
        or (m == 2 and 8 <= dd <= 23)
        or (m == 4 and 5 <= dd <= 20)
        or m in (7, 8)
    )


def _academic_factor(d: date) -> float:
    """How busy the university is on a day regardless of the weekday."""
    m, dd = d.month, d.day
    if (m == 12 and dd >= 24) or (m == 1 and dd == 1):
        return 0.12  # closed between Christmas and New Year
    if (m == 7 and dd >= 14) or (m == 8 and dd <= 20):
        return 0.08  # summer closure
    if m == 7 or m == 8:
        return 0.3
    if m == 9 and dd <= 7:
        return 0.8 + 0.06 * dd  # the rentrée ramps up
    if m == 9 and dd <= 20:
        return 1.25  # everyone looks at the timetable and the ENT
    if m == 6:
        return 0.65 if dd <= 15 else 0.45  # exams, then the end of the year
    if m == 5 and dd >= 15:
        return 1.1  # exam revisions
    return 1.0


def build_calendar(end: date, days: int, school_zone: str = "B") -> Calendar:
    """The `days` days ending on `end` (included), Europe/Paris."""
    window = [end - timedelta(days=days - 1 - i) for i in range(days)]
    public = holidays.country_holidays("FR", years=sorted({d.year for d in window}))
    school = _school_holidays(window, school_zone)
    epoch = date(1970, 1, 1)
    day_start = np.array([(d - epoch).days * 86_400 for d in window], dtype=np.int64)
    offset = np.empty((days, 24), dtype=np.int64)
    for i, d in enumerate(window):
        for h in range(24):
            delta = datetime(d.year, d.month, d.day, h, tzinfo=_PARIS).utcoffset()
            offset[i, h] = int(delta.total_seconds()) if delta is not None else 0
    academic = np.array([_academic_factor(d) for d in window], dtype=np.float64)
    is_public = np.array([d in public for d in window])
    academic = np.where(is_public, academic * 0.25, academic)
    return Calendar(
        days=window,
        day_start=day_start,
        weekday=np.array([d.weekday() for d in window], dtype=np.int64),
        academic=academic,
        holiday=np.array([d in school for d in window]),
        offset=offset,
    )
