-- What the logs reveal about the information system, per source: events of accounts missing
-- from the directory (population 'unknown'), anonymous events, and people known to the
-- directory but without a main assignment or, for students, without a study step.
SELECT
  source,
  sum(events) AS events,
  coalesce(sum(CASE WHEN population = 'anonymous' THEN events END), 0) AS anonymous_events,
  coalesce(sum(CASE WHEN population = 'unknown' THEN events END), 0) AS unknown_events,
  CAST(coalesce(sum(CASE WHEN population = 'unknown' THEN events END), 0) AS DOUBLE) / sum(events)
    AS unknown_share,
  count(DISTINCT CASE WHEN population = 'unknown' THEN user_pseudo END) AS unknown_people,
  count(DISTINCT CASE WHEN population NOT IN ('unknown', 'anonymous') AND structure IS NULL
                      THEN user_pseudo END) AS people_without_structure,
  count(DISTINCT CASE WHEN population = 'student' AND etape IS NULL
                      THEN user_pseudo END) AS students_without_etape
FROM filtered_daily
GROUP BY source
ORDER BY source
