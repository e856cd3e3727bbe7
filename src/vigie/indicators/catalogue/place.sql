-- Where each service is used from: inside the campus (any zone of the IP plan), outside, or
-- unknown (an unreadable address), detailed by network zone.
WITH cells AS (
  SELECT
    service,
    CASE WHEN zone = 'outside' THEN 'outside'
         WHEN zone IS NULL OR zone = 'unknown' THEN 'unknown'
         ELSE 'inside' END AS place,
    coalesce(zone, 'unknown') AS zone,
    count(*) AS events,
    count(DISTINCT user_pseudo) AS users
  FROM events
  WHERE ($start IS NULL OR day >= $start)
    AND ($end IS NULL OR day <= $end)
    AND ($service IS NULL OR service = $service)
    AND ($population IS NULL OR population = $population)
    AND ($structure IS NULL OR structure = $structure)
    AND ($etape IS NULL OR etape = $etape)
    AND ($device IS NULL OR device = $device)
  GROUP BY 1, 2, 3
)
SELECT
  service, place, zone, events, users,
  sum(events) OVER (PARTITION BY service) AS service_events,
  CAST(events AS DOUBLE) / sum(events) OVER (PARTITION BY service) AS share
FROM cells
ORDER BY service, place, zone
