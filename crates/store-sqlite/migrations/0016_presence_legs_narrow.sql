-- Who is where (issue 5), narrower: `presence_legs` and its two indexes
-- held each leg's traveller and request as 36-character UUID text and its
-- departure, arrival and stay's end as 27-character timestamps, repeated in
-- every index entry: two fifths of a database of trips, written and sorted
-- again by every first load. The table is rebuilt with the ids as their 16
-- bytes and the times as integer microseconds since 1970 (UTC); both sort
-- as their text did, so the order of the table and of its indexes is
-- unchanged. The stay's class is computed from the two integers, with no
-- function call (a statement that calls one keeps a statement journal).
--
-- The triggers on `legs` and `travel_requests` convert what they copy:
-- an id with `unhex(id, '-')`, a time (always written as
-- 'YYYY-MM-DDTHH:MM:SS.ffffffZ') as the seconds of its first 19 characters
-- and the six digits of its fraction. The triggers on `presence_legs`
-- itself are those of 0015, unchanged, created again once the table is
-- back under its name. The classes are those of 0010, 0014 and 0015
-- (`warden_store::stay_classes`).

DROP TRIGGER presence_legs_delete;
DROP TRIGGER presence_legs_insert;
DROP TRIGGER presence_legs_update;
DROP TRIGGER presence_legs_traveller;

CREATE TABLE presence_legs_rebuilt (
    traveller_id BLOB NOT NULL,
    depart INTEGER NOT NULL,
    arrive INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    request_id BLOB NOT NULL,
    area_code TEXT NOT NULL,
    until INTEGER,
    stay_class INTEGER GENERATED ALWAYS AS (
CASE WHEN until IS NULL THEN 99 ELSE CASE WHEN until - depart < 921600000000 THEN CASE WHEN until - depart < 28800000000 THEN CASE WHEN until - depart < 7200000000 THEN CASE WHEN until - depart < 3600000000 THEN 0 ELSE 1 END ELSE CASE WHEN until - depart < 14400000000 THEN 2 ELSE 3 END END ELSE CASE WHEN until - depart < 115200000000 THEN CASE WHEN until - depart < 57600000000 THEN 4 ELSE 5 END ELSE CASE WHEN until - depart < 230400000000 THEN 6 ELSE CASE WHEN until - depart < 460800000000 THEN 7 ELSE 8 END END END END ELSE CASE WHEN until - depart < 29491200000000 THEN CASE WHEN until - depart < 3686400000000 THEN CASE WHEN until - depart < 1843200000000 THEN 9 ELSE 10 END ELSE CASE WHEN until - depart < 7372800000000 THEN 11 ELSE CASE WHEN until - depart < 14745600000000 THEN 12 ELSE 13 END END END ELSE CASE WHEN until - depart < 117964800000000 THEN CASE WHEN until - depart < 58982400000000 THEN 14 ELSE 15 END ELSE CASE WHEN until - depart < 235929600000000 THEN 16 ELSE CASE WHEN until - depart < 471859200000000 THEN 17 ELSE 99 END END END END END END) STORED,
    PRIMARY KEY (traveller_id, depart, arrive, seq, request_id)
) WITHOUT ROWID;
INSERT INTO presence_legs_rebuilt (traveller_id, depart, arrive, seq, request_id, area_code, until)
SELECT unhex(traveller_id, '-'),
       unixepoch(substr(depart, 1, 19)) * 1000000 + CAST(substr(depart, 21, 6) AS INTEGER),
       unixepoch(substr(arrive, 1, 19)) * 1000000 + CAST(substr(arrive, 21, 6) AS INTEGER),
       seq, unhex(request_id, '-'), area_code,
       unixepoch(substr(until, 1, 19)) * 1000000 + CAST(substr(until, 21, 6) AS INTEGER)
  FROM presence_legs;
DROP TABLE presence_legs;
ALTER TABLE presence_legs_rebuilt RENAME TO presence_legs;

CREATE INDEX presence_legs_area ON presence_legs(area_code, stay_class, depart, until);
CREATE INDEX presence_legs_stay ON presence_legs(stay_class, depart, until, area_code);

CREATE TRIGGER presence_legs_delete AFTER DELETE ON legs
WHEN OLD.status NOT IN ('cancelled', 'denied') AND NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    DELETE FROM presence_legs
     WHERE traveller_id = (SELECT unhex(traveller_id, '-') FROM travel_requests WHERE id = OLD.request_id)
       AND depart = unixepoch(substr(OLD.depart, 1, 19)) * 1000000 + CAST(substr(OLD.depart, 21, 6) AS INTEGER)
       AND arrive = unixepoch(substr(OLD.arrive, 1, 19)) * 1000000 + CAST(substr(OLD.arrive, 21, 6) AS INTEGER)
       AND seq = OLD.seq AND request_id = unhex(OLD.request_id, '-');
END;

CREATE TRIGGER presence_legs_insert AFTER INSERT ON legs
WHEN NEW.status NOT IN ('cancelled', 'denied') AND NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code, until)
    SELECT k.traveller_id, k.depart, k.arrive, NEW.seq, k.request_id, NEW.area_code,
           (SELECT min(p.depart) FROM presence_legs p
             WHERE p.traveller_id = k.traveller_id AND p.depart > k.depart)
      FROM (SELECT unhex(traveller_id, '-') AS traveller_id,
                   unixepoch(substr(NEW.depart, 1, 19)) * 1000000 + CAST(substr(NEW.depart, 21, 6) AS INTEGER) AS depart,
                   unixepoch(substr(NEW.arrive, 1, 19)) * 1000000 + CAST(substr(NEW.arrive, 21, 6) AS INTEGER) AS arrive,
                   unhex(NEW.request_id, '-') AS request_id
              FROM travel_requests WHERE id = NEW.request_id) k;
END;

CREATE TRIGGER presence_legs_update AFTER UPDATE OF request_id, seq, area_code, depart, arrive, status ON legs
WHEN OLD.request_id IS NOT NEW.request_id OR OLD.seq IS NOT NEW.seq
  OR OLD.area_code IS NOT NEW.area_code OR OLD.depart IS NOT NEW.depart OR OLD.arrive IS NOT NEW.arrive
  OR (OLD.status IN ('cancelled', 'denied')) IS NOT (NEW.status IN ('cancelled', 'denied'))
BEGIN
    DELETE FROM presence_legs
     WHERE traveller_id = (SELECT unhex(traveller_id, '-') FROM travel_requests WHERE id = OLD.request_id)
       AND depart = unixepoch(substr(OLD.depart, 1, 19)) * 1000000 + CAST(substr(OLD.depart, 21, 6) AS INTEGER)
       AND arrive = unixepoch(substr(OLD.arrive, 1, 19)) * 1000000 + CAST(substr(OLD.arrive, 21, 6) AS INTEGER)
       AND seq = OLD.seq AND request_id = unhex(OLD.request_id, '-');
    INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code, until)
    SELECT k.traveller_id, k.depart, k.arrive, NEW.seq, k.request_id, NEW.area_code,
           (SELECT min(p.depart) FROM presence_legs p
             WHERE p.traveller_id = k.traveller_id AND p.depart > k.depart)
      FROM (SELECT unhex(traveller_id, '-') AS traveller_id,
                   unixepoch(substr(NEW.depart, 1, 19)) * 1000000 + CAST(substr(NEW.depart, 21, 6) AS INTEGER) AS depart,
                   unixepoch(substr(NEW.arrive, 1, 19)) * 1000000 + CAST(substr(NEW.arrive, 21, 6) AS INTEGER) AS arrive,
                   unhex(NEW.request_id, '-') AS request_id
              FROM travel_requests WHERE id = NEW.request_id AND NEW.status NOT IN ('cancelled', 'denied')) k;
END;

CREATE TRIGGER presence_legs_traveller AFTER UPDATE OF traveller_id ON travel_requests
WHEN OLD.traveller_id IS NOT NEW.traveller_id AND NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    UPDATE presence_legs SET traveller_id = unhex(NEW.traveller_id, '-')
     WHERE traveller_id = unhex(OLD.traveller_id, '-') AND request_id = unhex(NEW.id, '-');
END;

CREATE TRIGGER presence_stays_delete AFTER DELETE ON presence_legs
WHEN NOT EXISTS (SELECT 1 FROM presence_legs WHERE traveller_id = OLD.traveller_id AND depart = OLD.depart)
BEGIN
    UPDATE presence_legs SET until = (
        SELECT min(depart) FROM presence_legs
         WHERE traveller_id = OLD.traveller_id AND depart > OLD.depart)
     WHERE traveller_id = OLD.traveller_id AND depart = (
        SELECT max(depart) FROM presence_legs
         WHERE traveller_id = OLD.traveller_id AND depart < OLD.depart);
END;

CREATE TRIGGER presence_stays_insert AFTER INSERT ON presence_legs
WHEN NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    UPDATE presence_legs SET until = NEW.depart
     WHERE traveller_id = NEW.traveller_id AND depart = (
        SELECT max(depart) FROM presence_legs
         WHERE traveller_id = NEW.traveller_id AND depart < NEW.depart)
       AND until IS NOT NEW.depart;
END;

CREATE TRIGGER presence_stays_traveller AFTER UPDATE OF traveller_id ON presence_legs
WHEN OLD.traveller_id IS NOT NEW.traveller_id
BEGIN
    -- As if removed from the old traveller…
    UPDATE presence_legs SET until = (
        SELECT min(depart) FROM presence_legs
         WHERE traveller_id = OLD.traveller_id AND depart > OLD.depart)
     WHERE traveller_id = OLD.traveller_id AND depart = (
        SELECT max(depart) FROM presence_legs
         WHERE traveller_id = OLD.traveller_id AND depart <= OLD.depart);
    -- … and added to the new one.
    UPDATE presence_legs SET until = (
        SELECT min(depart) FROM presence_legs
         WHERE traveller_id = NEW.traveller_id AND depart > NEW.depart)
     WHERE traveller_id = NEW.traveller_id AND depart = NEW.depart;
    UPDATE presence_legs SET until = NEW.depart
     WHERE traveller_id = NEW.traveller_id AND depart = (
        SELECT max(depart) FROM presence_legs
         WHERE traveller_id = NEW.traveller_id AND depart < NEW.depart);
END;
