-- Where each service is used from: inside the campus (any zone of the IP plan), outside, or
-- unknown (an unreadable address), detailed by network zone.
WITH cells AS (
  SELECT service, coalesce(zone, 'unknown') AS zone, sum(events) AS events
  FROM filtered_daily_events
  GROUP BY service, coalesce(zone, 'unknown')
), users AS (
  SELECT service, coalesce(zone, 'unknown') AS zone, count(DISTINCT user_pseudo) AS users
  FROM filtered_last_seen
  GROUP BY service, coalesce(zone, 'unknown')
)
SELECT
  e.service,
  CASE WHEN e.zone = 'outside' THEN 'outside'
       WHEN e.zone = 'unknown' THEN 'unknown'
       ELSE 'inside' END AS place,
  e.zone, e.events, coalesce(u.users, 0) AS users,
  sum(e.events) OVER (PARTITION BY e.service) AS service_events,
  CAST(e.events AS DOUBLE) / sum(e.events) OVER (PARTITION BY e.service) AS share
FROM cells e
LEFT JOIN users u ON u.service = e.service AND u.zone = e.zone
ORDER BY service, place, zone
