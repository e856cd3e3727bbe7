-- When each service is used: events and distinct users per ISO weekday (1 = Monday) and local
-- hour, from the lake's own calendar columns (the same numbering on every engine).
SELECT
  service, weekday, hour,
  count(*) AS events,
  count(DISTINCT user_pseudo) AS users
FROM filtered_events
GROUP BY service, weekday, hour
ORDER BY service, weekday, hour
