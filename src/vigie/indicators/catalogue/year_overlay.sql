-- Distinct users of each service per day of the current academic year and of the one before,
-- placed on a common axis so that a line chart coloured by academic year overlays them. The
-- current year is the lake's last one (`daily_events`, whatever the filters), so a filter
-- never shifts which years are compared; each day's users come from the daily summary.
--
-- The axis, `academic_day`, counts days from the Monday of the week of 1 September, not from
-- 1 September itself: 1 September falls on a different weekday each year, and counting from
-- it would put the weekend dips of one year under the weekdays of the other. From that Monday,
-- a given position is the same weekday in every year and the weeks of the start of the year
-- line up (that Monday may be in August, then a year's first day is 1 to 6). The Monday is
-- found by date arithmetic both engines share: 1 January 1900 was a Monday.
--
-- No period filter: the comparison needs both whole years whatever the dashboard's period.
WITH years AS (
  SELECT
    service, academic_year, day, users, events,
    make_date(CAST(substr(academic_year, 1, 4) AS INTEGER), 9, 1) AS first_day
  FROM filtered_service_days
  WHERE CAST(substr(academic_year, 1, 4) AS INTEGER)
        >= (SELECT CAST(substr(max(academic_year), 1, 4) AS INTEGER) - 1 FROM daily_events)
)
SELECT
  service, academic_year,
  CAST(day - first_day AS INTEGER) + CAST(first_day - DATE '1900-01-01' AS INTEGER) % 7
    AS academic_day,
  day, users, events
FROM years
ORDER BY service, academic_year, academic_day
