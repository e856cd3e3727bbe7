-- Where each service is used from: inside the campus (any zone of the IP plan), outside, or
-- unknown (an unreadable address), detailed by network zone.
WITH cells AS (
  SELECT
    service,
    CASE WHEN zone = 'outside' THEN 'outside'
         WHEN zone IS NULL OR zone = 'unknown' THEN 'unknown'
         ELSE 'inside' END AS place,
    coalesce(zone, 'unknown') AS zone,
    sum(events) AS events,
    count(DISTINCT user_pseudo) AS users
  FROM filtered_daily
  GROUP BY 1, 2, 3
)
SELECT
  service, place, zone, events, users,
  sum(events) OVER (PARTITION BY service) AS service_events,
  CAST(events AS DOUBLE) / sum(events) OVER (PARTITION BY service) AS share
FROM cells
ORDER BY service, place, zone
