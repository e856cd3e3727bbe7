-- Penetration of each service in each study step (étape): the distinct people of the step who
-- used the service, over the step's head count in the directory (its largest daily one in the
-- period, as in `adoption`). Every step of the directory is crossed with every service that has
-- events in the period, so a step that never used a service shows 0 users. Ordered by step,
-- not by rate: an order by rate would place steps too small to publish.
WITH users AS (
  SELECT service, etape, count(DISTINCT user_pseudo) AS users
  FROM filtered_last_seen
  WHERE etape IS NOT NULL
  GROUP BY service, etape
), headcount AS (
  SELECT day, etape, sum(people) AS people
  FROM filtered_population
  WHERE etape IS NOT NULL
  GROUP BY day, etape
), people AS (
  SELECT etape, max(people) AS people FROM headcount GROUP BY etape
), services AS (
  SELECT DISTINCT service FROM filtered_period_events
)
SELECT
  s.service,
  p.etape,
  coalesce(u.users, 0) AS users,
  p.people,
  CAST(coalesce(u.users, 0) AS DOUBLE) / NULLIF(p.people, 0) AS penetration
FROM services s
CROSS JOIN people p
LEFT JOIN users u ON u.service = s.service AND u.etape = p.etape
ORDER BY s.service, p.etape
