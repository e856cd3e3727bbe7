-- Strengths: for each population, its services ranked by distinct users, most used first.
-- Only services with at least $k users are ranked (a smaller count would be withheld anyway).
WITH users AS (
  SELECT population, service, count(DISTINCT user_pseudo) AS users
  FROM filtered_last_seen
  GROUP BY population, service
)
SELECT
  population, service, users,
  row_number() OVER (PARTITION BY population ORDER BY users DESC, service ASC) AS service_rank
FROM users
WHERE users >= $k
ORDER BY population, service_rank
