-- Distinct users of each service per day, with the calendar flags that explain the curve
-- (weekends, public holidays, school holidays of the configured zone).
SELECT service, day, weekday, is_public_holiday, is_school_holiday, users, events
FROM filtered_service_days
ORDER BY service, day
