-- Head counts of the directory over time, per population only: the curve of each population
-- (the `directory` indicator splits them by structure too, a table rather than a chart). Rows
-- on the snapshot days and on the first and last days of the period, as `directory`.
WITH segments AS (
  SELECT day, population, sum(people) AS people
  FROM filtered_population
  GROUP BY day, population
), ends AS (
  SELECT min(day) AS first_day, max(day) AS last_day FROM segments
)
SELECT s.day, s.population, s.people
FROM segments s
CROSS JOIN ends e
WHERE s.day = e.first_day
   OR s.day = e.last_day
   OR s.day IN (SELECT DISTINCT snapshot_date FROM directory)
ORDER BY s.day, s.population
