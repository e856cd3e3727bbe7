-- Distinct users of each service per ISO week (Monday to Sunday), with the week before, the
-- same ISO week a year earlier, and the relative changes. People are counted over the whole
-- week in `daily` (a person active on three days is one user), never summed over its days.
--
-- Weeks are whole: a row is a week that meets the period, counted over its seven days, so a
-- week has the same figure whatever the period showing it (the dashboards' "this month" starts
-- mid-week). The week before and the week a year earlier lie outside the period by nature:
-- `filtered_service_weeks` (a summary of the lake, see `vigie.warehouse.summaries`) keeps, for
-- the period, every week that meets it and the weeks up to 377 days before it, with the other
-- filters applied as usual.
--
-- Week numbers come from date arithmetic both engines share: an ISO week belongs to the year
-- of its Thursday. "A year earlier" is the same week number of the previous ISO year, as a
-- French reader compares "semaine 37" with "semaine 37"; a week 53 has none.
WITH weeks AS (
  SELECT
    service, week_start,
    year(week_start + 3) AS iso_year,
    CAST(floor((dayofyear(week_start + 3) - 1) / 7) AS INTEGER) + 1 AS iso_week,
    users
  FROM filtered_service_weeks
)
SELECT
  w.service, w.week_start, w.iso_year, w.iso_week, w.users,
  p.users AS previous_week_users,
  CAST(w.users - p.users AS DOUBLE) / NULLIF(p.users, 0) AS week_change,
  y.users AS last_year_users,
  CAST(w.users - y.users AS DOUBLE) / NULLIF(y.users, 0) AS year_change
FROM weeks w
LEFT JOIN weeks p ON p.service = w.service AND p.week_start = w.week_start - 7
LEFT JOIN weeks y
  ON y.service = w.service AND y.iso_year = w.iso_year - 1 AND y.iso_week = w.iso_week
WHERE ($start IS NULL OR w.week_start >= CAST($start AS DATE) - 6)
  AND ($end IS NULL OR w.week_start <= $end)
ORDER BY w.service, w.week_start
