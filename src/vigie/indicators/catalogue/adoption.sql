-- Penetration of each service in each population: distinct users over the people the directory
-- holds. The denominator of a period is its largest daily head count (a population that grows
-- during the period is not undercounted). Services with events in the period are crossed with
-- every population, so a population that never used a service shows 0 users: the gap itself.
WITH users AS (
  SELECT service, population, count(DISTINCT user_pseudo) AS users
  FROM filtered_last_seen
  GROUP BY service, population
), headcount AS (
  SELECT day, population, sum(people) AS people
  FROM filtered_population
  GROUP BY day, population
), people AS (
  SELECT population, max(people) AS people FROM headcount GROUP BY population
), services AS (
  SELECT DISTINCT service FROM filtered_period_events
)
SELECT
  s.service,
  p.population,
  coalesce(u.users, 0) AS users,
  p.people,
  CAST(coalesce(u.users, 0) AS DOUBLE) / NULLIF(p.people, 0) AS penetration
FROM services s
CROSS JOIN people p
LEFT JOIN users u ON u.service = s.service AND u.population = p.population
ORDER BY s.service, p.population
