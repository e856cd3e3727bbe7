-- Lines the ingestion could not read, per source and reason (the lines themselves are never
-- copied into the lake: open the file at the recorded line number to see one).
SELECT
  source, reason,
  count(*) AS lines,
  count(DISTINCT file) AS files
FROM quarantine
GROUP BY source, reason
ORDER BY source, reason
