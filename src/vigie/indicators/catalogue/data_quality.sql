-- What the logs reveal about the information system, per source: events of accounts missing
-- from the directory (population 'unknown'), anonymous events, and people known to the
-- directory but without a main assignment or, for students, without a study step; people
-- assigned to a structure that `ou=structures` does not describe (badly assigned), and people
-- whose category contradicts their record: a study step but not a student (badly categorized).
-- It has no structure filter: it counts the whole institution, including accounts without a
-- structure, so a manager restricted to structures may not read it.
WITH cells AS (
  SELECT
    source,
    sum(events) AS events,
    coalesce(sum(CASE WHEN population = 'anonymous' THEN events END), 0) AS anonymous_events,
    coalesce(sum(CASE WHEN population = 'unknown' THEN events END), 0) AS unknown_events
  FROM filtered_daily_events
  GROUP BY source
), people AS (
  SELECT
    source,
    count(DISTINCT CASE WHEN population = 'unknown' THEN user_pseudo END) AS unknown_people,
    count(DISTINCT CASE WHEN population NOT IN ('unknown', 'anonymous') AND structure IS NULL
                        THEN user_pseudo END) AS people_without_structure,
    count(DISTINCT CASE WHEN population = 'student' AND etape IS NULL
                        THEN user_pseudo END) AS students_without_etape,
    count(DISTINCT CASE WHEN population NOT IN ('unknown', 'anonymous')
                         AND structure IS NOT NULL AND structure_label IS NULL
                        THEN user_pseudo END) AS people_in_unknown_structure,
    count(DISTINCT CASE WHEN population NOT IN ('student', 'unknown', 'anonymous')
                         AND etape IS NOT NULL
                        THEN user_pseudo END) AS non_students_with_etape
  FROM filtered_last_seen
  GROUP BY source
)
SELECT
  e.source, e.events, e.anonymous_events, e.unknown_events,
  CAST(e.unknown_events AS DOUBLE) / e.events AS unknown_share,
  coalesce(p.unknown_people, 0) AS unknown_people,
  coalesce(p.people_without_structure, 0) AS people_without_structure,
  coalesce(p.students_without_etape, 0) AS students_without_etape,
  coalesce(p.people_in_unknown_structure, 0) AS people_in_unknown_structure,
  coalesce(p.non_students_with_etape, 0) AS non_students_with_etape
FROM cells e
LEFT JOIN people p ON p.source = e.source
ORDER BY source
