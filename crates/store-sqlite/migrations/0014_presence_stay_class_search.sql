-- Who is where (issue 5), cheaper to index: a stay's length class (0010)
-- was a linear CASE that parsed both timestamps once per class tried, up
-- to 36 times for a long stay, for each index entry written. The same
-- classes by a binary search: at most 10 parses. The bounds are those of
-- 0010 and `warden_store::stay_classes`.
DROP INDEX presence_legs_area;
DROP INDEX presence_legs_stay;
ALTER TABLE presence_legs DROP COLUMN stay_class;
ALTER TABLE presence_legs ADD COLUMN stay_class INTEGER GENERATED ALWAYS AS (
CASE WHEN until IS NULL THEN 99 ELSE CASE WHEN unixepoch(until) - unixepoch(depart) < 921600 THEN CASE WHEN unixepoch(until) - unixepoch(depart) < 28800 THEN CASE WHEN unixepoch(until) - unixepoch(depart) < 7200 THEN CASE WHEN unixepoch(until) - unixepoch(depart) < 3600 THEN 0 ELSE 1 END ELSE CASE WHEN unixepoch(until) - unixepoch(depart) < 14400 THEN 2 ELSE 3 END END ELSE CASE WHEN unixepoch(until) - unixepoch(depart) < 115200 THEN CASE WHEN unixepoch(until) - unixepoch(depart) < 57600 THEN 4 ELSE 5 END ELSE CASE WHEN unixepoch(until) - unixepoch(depart) < 230400 THEN 6 ELSE CASE WHEN unixepoch(until) - unixepoch(depart) < 460800 THEN 7 ELSE 8 END END END END ELSE CASE WHEN unixepoch(until) - unixepoch(depart) < 29491200 THEN CASE WHEN unixepoch(until) - unixepoch(depart) < 3686400 THEN CASE WHEN unixepoch(until) - unixepoch(depart) < 1843200 THEN 9 ELSE 10 END ELSE CASE WHEN unixepoch(until) - unixepoch(depart) < 7372800 THEN 11 ELSE CASE WHEN unixepoch(until) - unixepoch(depart) < 14745600 THEN 12 ELSE 13 END END END ELSE CASE WHEN unixepoch(until) - unixepoch(depart) < 117964800 THEN CASE WHEN unixepoch(until) - unixepoch(depart) < 58982400 THEN 14 ELSE 15 END ELSE CASE WHEN unixepoch(until) - unixepoch(depart) < 235929600 THEN 16 ELSE CASE WHEN unixepoch(until) - unixepoch(depart) < 471859200 THEN 17 ELSE 99 END END END END END END) VIRTUAL;
CREATE INDEX presence_legs_area ON presence_legs(area_code, stay_class, depart, until);
CREATE INDEX presence_legs_stay ON presence_legs(stay_class, depart, until, area_code);
