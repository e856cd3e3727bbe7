-- Distinct users of each service per day, with the calendar flags that explain the curve
-- (weekends, public holidays, school holidays of the configured zone).
SELECT
  service, day, weekday, is_public_holiday, is_school_holiday,
  count(DISTINCT user_pseudo) AS users,
  sum(events) AS events
FROM filtered_daily
GROUP BY service, day, weekday, is_public_holiday, is_school_holiday
ORDER BY service, day
