-- What the logs reveal about the information system, per source: events of accounts missing
-- from the directory (population 'unknown'), anonymous events, and people known to the
-- directory but without a main assignment or, for students, without a study step.
SELECT
  source,
  count(*) AS events,
  count(CASE WHEN population = 'anonymous' THEN 1 END) AS anonymous_events,
  count(CASE WHEN population = 'unknown' THEN 1 END) AS unknown_events,
  CAST(count(CASE WHEN population = 'unknown' THEN 1 END) AS DOUBLE) / count(*)
    AS unknown_share,
  count(DISTINCT CASE WHEN population = 'unknown' THEN user_pseudo END) AS unknown_people,
  count(DISTINCT CASE WHEN population NOT IN ('unknown', 'anonymous') AND structure IS NULL
                      THEN user_pseudo END) AS people_without_structure,
  count(DISTINCT CASE WHEN population = 'student' AND etape IS NULL
                      THEN user_pseudo END) AS students_without_etape
FROM filtered_events
GROUP BY source
ORDER BY source
