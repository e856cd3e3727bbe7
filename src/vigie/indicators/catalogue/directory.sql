-- Head counts of the directory over time, per population and structure. The directory is known
-- on the days it was photographed (each `vigie ingest` takes a snapshot) and a day between two
-- snapshots has the last one's head counts: rows are kept on the snapshot days and on the first
-- and last days of the period, which draws the same curve without repeating identical days when
-- snapshots are sparse (a lake backfilled from one snapshot is one row per segment and end).
WITH segments AS (
  SELECT day, population, structure, structure_label, sum(people) AS people
  FROM filtered_population
  GROUP BY day, population, structure, structure_label
), ends AS (
  SELECT min(day) AS first_day, max(day) AS last_day FROM segments
)
SELECT s.day, s.population, s.structure, s.structure_label, s.people
FROM segments s
CROSS JOIN ends e
WHERE s.day = e.first_day
   OR s.day = e.last_day
   OR s.day IN (SELECT DISTINCT snapshot_date FROM directory)
ORDER BY s.day, s.population, s.structure NULLS FIRST, s.structure_label NULLS FIRST
