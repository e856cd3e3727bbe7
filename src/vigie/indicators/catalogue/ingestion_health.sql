-- The health of each source's collection, relative to the lake's last day L (the last day with
-- events, as `LAST_DAY_SQL` has it: the result depends on the lake, not on when it is asked).
-- * Late: no event in the lake's last 3 days (the last one is more than 2 days before L): a
--   weekend without events is not late, a log no longer copied or read is.
-- * Failures rising: the quarantine rate of the recent days (L-1 and L) is above 1 % and above
--   3 times the usual rate (the 28 days before, L-29 to L-2), or above 1 % with no line read
--   in those 28 days: a new log format, a changed encoding.
-- The lake does not count the lines read per day: the lines of a window are the source's
-- events in it plus its lines quarantined in it. A quarantined line has no time of its own
-- (an unreadable time is one of the reasons): it falls in the window of `near_day`, the last
-- day of the readable lines around it; without one, in the window of the moment it was
-- quarantined, a window then starting at the lake's first event of its first day (an instant,
-- compared with instants, so that no engine's time zone decides in which window a line falls;
-- a line quarantined after L, by the run that read L's events, is recent). The status compares products of counts,
-- not rates: integers, exact on both engines.
WITH lake AS (
  SELECT min(day) AS first_day, max(day) AS last_day FROM daily_events
), source_days AS (
  SELECT source, day, sum(events) AS events FROM daily_events GROUP BY source, day
), starts AS (
  -- The first day with events of each window (the usual window is empty when it has none).
  SELECT min(CASE WHEN d.day >= l.last_day - 1 THEN d.day END) AS recent_day,
         min(d.day) AS usual_day
  FROM source_days d CROSS JOIN lake l
  WHERE d.day >= l.last_day - 29
), bounds AS (
  -- The lake's first event of each window's first day, from the summary of the events per
  -- source and hour (`events` itself costs a listing of every file of the lake).
  SELECT min(CASE WHEN h.day = s.recent_day THEN h.first_ts END) AS recent_from,
         min(CASE WHEN h.day = s.usual_day THEN h.first_ts END) AS usual_from
  FROM source_hours h CROSS JOIN starts s
  WHERE h.day = s.recent_day OR h.day = s.usual_day
), windows AS (
  SELECT d.source,
         sum(CASE WHEN d.day >= l.last_day - 1 THEN d.events ELSE 0 END) AS recent_events,
         sum(CASE WHEN d.day < l.last_day - 1 THEN d.events ELSE 0 END) AS usual_events
  FROM source_days d CROSS JOIN lake l
  WHERE d.day >= l.last_day - 29
  GROUP BY d.source
), quarantined AS (
  -- A bad line belongs to the window of the days it stood among in its log (`near_day`, the
  -- last day of the readable lines of its chunk), so that a first run reading months of logs
  -- does not count all its bad lines as recent; a line without one (a chunk with no readable
  -- line, a lake written before `near_day`) to the window of the moment it was quarantined.
  SELECT q.source,
         count(CASE WHEN q.near_day IS NULL AND q.quarantined_at >= b.recent_from
                      OR q.near_day >= l.last_day - 1 THEN 1 END) AS recent_quarantined,
         count(CASE WHEN q.near_day IS NULL AND q.quarantined_at >= b.usual_from
                         AND q.quarantined_at < b.recent_from
                      OR q.near_day >= l.last_day - 29 AND q.near_day < l.last_day - 1
                    THEN 1 END) AS usual_quarantined,
         max(q.format) AS format
  FROM quarantine q CROSS JOIN bounds b CROSS JOIN lake l
  GROUP BY q.source
), last_days AS (
  SELECT source, max(day) AS last_day FROM source_days GROUP BY source
), last_events AS (
  -- The local time of each source's last event: its local day and hour from the lake, the
  -- minutes from the instant (the same in every time zone a whole number of hours away); the
  -- last instant of each hour is that of its last event.
  SELECT h.source,
         max_by(h.format, h.last_ts) AS format,
         max_by(concat(CAST(h.day AS STRING), ' ', lpad(CAST(h.hour AS STRING), 2, '0'), ':',
                       lpad(CAST(minute(h.last_ts) AS STRING), 2, '0')), h.last_ts) AS last_event
  FROM source_hours h
  JOIN last_days d ON h.source = d.source AND h.day = d.last_day
  GROUP BY h.source
), sources AS (
  -- `quarantined` has every source of `quarantine` (`bounds` is one row): read once.
  SELECT source FROM last_days UNION SELECT source FROM quarantined
), counts AS (
  SELECT
    s.source,
    coalesce(e.format, q.format) AS format,
    e.last_event,
    d.last_day IS NULL OR d.last_day < l.last_day - 2 AS late,
    CAST(l.last_day - d.last_day AS BIGINT) AS days_late,
    coalesce(w.recent_events, 0) + coalesce(q.recent_quarantined, 0) AS recent_lines,
    coalesce(q.recent_quarantined, 0) AS recent_quarantined,
    coalesce(w.usual_events, 0) + coalesce(q.usual_quarantined, 0) AS usual_lines,
    coalesce(q.usual_quarantined, 0) AS usual_quarantined,
    -- Days of each window the lake covers (a lake younger than 30 days has shorter ones).
    CAST(l.last_day - greatest(l.last_day - 1, l.first_day) AS BIGINT) + 1 AS recent_days,
    CAST(l.last_day - 2 - greatest(l.last_day - 29, l.first_day) AS BIGINT) + 1 AS usual_days
  FROM sources s
  CROSS JOIN lake l
  LEFT JOIN last_days d ON d.source = s.source
  LEFT JOIN windows w ON w.source = s.source
  LEFT JOIN quarantined q ON q.source = s.source
  LEFT JOIN last_events e ON e.source = s.source
), flagged AS (
  SELECT *,
         recent_quarantined > 0 AND 100 * recent_quarantined > recent_lines
           AND (usual_lines = 0
                OR recent_quarantined * usual_lines > 3 * usual_quarantined * recent_lines)
           AS rising
  FROM counts
)
SELECT
  source, format, last_event,
  CASE WHEN late AND rising THEN 'late_failures_rising'
       WHEN late THEN 'late'
       WHEN rising THEN 'failures_rising'
       ELSE 'ok' END AS status,
  days_late,
  CAST(recent_lines AS DOUBLE) / NULLIF(recent_days, 0) AS lines_per_day,
  CAST(recent_quarantined AS DOUBLE) / NULLIF(recent_days, 0) AS quarantined_per_day,
  CAST(recent_quarantined AS DOUBLE) / NULLIF(recent_lines, 0) AS quarantine_rate,
  CAST(usual_lines AS DOUBLE) / NULLIF(greatest(usual_days, 0), 0) AS usual_lines_per_day,
  CAST(usual_quarantined AS DOUBLE) / NULLIF(greatest(usual_days, 0), 0)
    AS usual_quarantined_per_day,
  CAST(usual_quarantined AS DOUBLE) / NULLIF(usual_lines, 0) AS usual_quarantine_rate
FROM flagged
ORDER BY source
