-- Which devices each service is used from: events and distinct users per device family, and
-- the device's share of the service's events.
WITH cells AS (
  SELECT service, device, sum(events) AS events
  FROM filtered_daily_events
  GROUP BY service, device
), users AS (
  SELECT service, device, count(DISTINCT user_pseudo) AS users
  FROM filtered_last_seen
  GROUP BY service, device
)
SELECT
  e.service, e.device, e.events, coalesce(u.users, 0) AS users,
  sum(e.events) OVER (PARTITION BY e.service) AS service_events,
  CAST(e.events AS DOUBLE) / sum(e.events) OVER (PARTITION BY e.service) AS share
FROM cells e
LEFT JOIN users u ON u.service = e.service AND u.device IS NOT DISTINCT FROM e.device
ORDER BY service, device
