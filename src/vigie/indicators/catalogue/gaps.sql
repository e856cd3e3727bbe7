-- The least-reached segments (population × structure) of each service, lowest penetration
-- first. Segments smaller than the publication threshold $k are left out: their rate could not
-- be published anyway, and ranking them would hint at what suppression hides.
WITH users AS (
  SELECT service, population, structure, count(DISTINCT user_pseudo) AS users
  FROM filtered_last_seen
  GROUP BY service, population, structure
), headcount AS (
  SELECT day, population, structure, max(structure_label) AS structure_label,
         sum(people) AS people
  FROM filtered_population
  GROUP BY day, population, structure
), people AS (
  SELECT population, structure, max(structure_label) AS structure_label, max(people) AS people
  FROM headcount
  GROUP BY population, structure
), services AS (
  SELECT DISTINCT service FROM filtered_period_events
), segments AS (
  SELECT
    s.service, p.population, p.structure, p.structure_label,
    coalesce(u.users, 0) AS users,
    p.people,
    CAST(coalesce(u.users, 0) AS DOUBLE) / p.people AS penetration
  FROM services s
  CROSS JOIN people p
  LEFT JOIN users u
    ON u.service = s.service AND u.population = p.population
    AND u.structure IS NOT DISTINCT FROM p.structure
  WHERE p.people >= $k
)
SELECT
  service, population, structure, structure_label, users, people, penetration,
  row_number() OVER (
    PARTITION BY service
    ORDER BY penetration ASC NULLS LAST, population ASC NULLS LAST, structure ASC NULLS LAST
  ) AS gap_rank
FROM segments
ORDER BY service, gap_rank
