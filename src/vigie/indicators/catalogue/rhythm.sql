-- When each service is used: events and distinct users per ISO weekday (1 = Monday) and local
-- hour, from the lake's own calendar columns (the same numbering on every engine).
SELECT
  service, weekday, hour,
  count(*) AS events,
  count(DISTINCT user_pseudo) AS users
FROM events
WHERE ($start IS NULL OR day >= $start)
  AND ($end IS NULL OR day <= $end)
  AND ($service IS NULL OR service = $service)
  AND ($population IS NULL OR population = $population)
  AND ($structure IS NULL OR structure = $structure)
  AND ($etape IS NULL OR etape = $etape)
  AND ($zone IS NULL OR zone = $zone)
  AND ($device IS NULL OR device = $device)
GROUP BY service, weekday, hour
ORDER BY service, weekday, hour
