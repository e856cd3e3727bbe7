-- Adoption curve of each service since the start of the period, its launch: on each day, the
-- distinct people who have used it at least once since the start (each counted from their first
-- day), over the population's head count. As in `adoption`, people are those of the directory
-- (an account missing from it, population 'unknown', is in no head count) and the head count is
-- the largest daily one from the start to that day: a day's figures are those `adoption` gives
-- for the period from the start to that day. Without a start, each service's curve starts on
-- its first day.
--
-- Days are those of the lake in the period (`daily_events`, whatever the service), so the curve
-- stays flat between two days with newcomers instead of being interpolated across them. Each
-- person's first day is the earliest of their first days of each month (`first_seen`).
WITH firsts AS (
  SELECT service, user_pseudo, min(first_day) AS first_day
  FROM filtered_first_seen
  WHERE population <> 'unknown'
  GROUP BY service, user_pseudo
), newcomers AS (
  SELECT service, first_day AS day, count(*) AS users
  FROM firsts
  GROUP BY service, first_day
), launches AS (
  SELECT service, min(day) AS launch_day FROM newcomers GROUP BY service
), calendar AS (
  SELECT DISTINCT day
  FROM daily_events
  WHERE ($start IS NULL OR day >= $start)
    AND ($end IS NULL OR day <= $end)
), curve AS (
  SELECT
    l.service, c.day,
    sum(coalesce(n.users, 0)) OVER (
      PARTITION BY l.service ORDER BY c.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS users
  FROM launches l
  JOIN calendar c ON c.day >= coalesce(CAST($start AS DATE), l.launch_day)
  LEFT JOIN newcomers n ON n.service = l.service AND n.day = c.day
), headcount AS (
  SELECT day, sum(people) AS people
  FROM filtered_population
  GROUP BY day
), largest AS (
  SELECT
    day,
    max(people) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS people
  FROM headcount
)
SELECT
  u.service, u.day, u.users, p.people,
  CAST(u.users AS DOUBLE) / NULLIF(p.people, 0) AS penetration
FROM curve u
LEFT JOIN largest p ON p.day = u.day
ORDER BY service, day
