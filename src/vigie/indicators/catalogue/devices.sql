-- Which devices each service is used from: events and distinct users per device family, and
-- the device's share of the service's events.
WITH cells AS (
  SELECT service, device, sum(events) AS events, count(DISTINCT user_pseudo) AS users
  FROM filtered_daily
  GROUP BY service, device
)
SELECT
  service, device, events, users,
  sum(events) OVER (PARTITION BY service) AS service_events,
  CAST(events AS DOUBLE) / sum(events) OVER (PARTITION BY service) AS share
FROM cells
ORDER BY service, device
