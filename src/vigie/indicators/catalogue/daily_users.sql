-- Distinct users of each service per day, with the calendar flags that explain the curve
-- (weekends, public holidays, school holidays of the configured zone).
SELECT
  service, day, weekday, is_public_holiday, is_school_holiday,
  count(DISTINCT user_pseudo) AS users,
  count(*) AS events
FROM events
WHERE ($start IS NULL OR day >= $start)
  AND ($end IS NULL OR day <= $end)
  AND ($service IS NULL OR service = $service)
  AND ($population IS NULL OR population = $population)
  AND ($structure IS NULL OR structure = $structure)
  AND ($etape IS NULL OR etape = $etape)
  AND ($zone IS NULL OR zone = $zone)
  AND ($device IS NULL OR device = $device)
GROUP BY service, day, weekday, is_public_holiday, is_school_holiday
ORDER BY service, day
