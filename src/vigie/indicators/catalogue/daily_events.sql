-- Events of each service per day, with the calendar flags (as `daily_users`), summed from
-- `daily_events`, which keeps every segment column: read from its summary whatever the
-- filters, the source one included (the Authentication page's logins per day), where
-- counting each day's distinct people under a source filter reads the `daily` table.
SELECT service, day, weekday, is_public_holiday, is_school_holiday, sum(events) AS events
FROM filtered_daily_events
GROUP BY service, day, weekday, is_public_holiday, is_school_holiday
ORDER BY service, day
