-- When each service is used: events and distinct users per ISO weekday (1 = Monday) and local
-- hour, from the lake's own calendar columns (the same numbering on every engine). The
-- summary of people's last day per weekday and hour has one row per person there: users are
-- counted as rows.
WITH cells AS (
  SELECT service, weekday, hour, sum(events) AS events
  FROM filtered_service_hours
  GROUP BY service, weekday, hour
), users AS (
  SELECT service, weekday, hour, count(*) AS users
  FROM filtered_last_seen_hours
  GROUP BY service, weekday, hour
)
SELECT e.service, e.weekday, e.hour, e.events, coalesce(u.users, 0) AS users
FROM cells e
LEFT JOIN users u ON u.service = e.service AND u.weekday = e.weekday AND u.hour = e.hour
ORDER BY service, weekday, hour
