-- Who is where (issue 5), cheaper to write: a stay's length class was a
-- VIRTUAL column (0010, 0014), computed again for every index entry
-- written and at every rebuild of the two indexes that hold it, each time
-- parsing both timestamps up to five times. The table is rebuilt with the
-- stay's length in seconds and its class STORED: each timestamp is parsed
-- once when the stay is written or its end changes, and the indexes read
-- the class from the row. The classes are those of 0010 and 0014
-- (`warden_store::stay_classes`).
--
-- The triggers that name the table are dropped first and created again,
-- as they were, once it is back under its name.

DROP TRIGGER presence_legs_delete;
DROP TRIGGER presence_legs_insert;
DROP TRIGGER presence_legs_update;
DROP TRIGGER presence_legs_traveller;

CREATE TABLE presence_legs_rebuilt (
    traveller_id TEXT NOT NULL,
    depart TEXT NOT NULL,
    arrive TEXT NOT NULL,
    seq INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    area_code TEXT NOT NULL,
    until TEXT,
    stay_seconds INTEGER GENERATED ALWAYS AS (unixepoch(until) - unixepoch(depart)) STORED,
    stay_class INTEGER GENERATED ALWAYS AS (
CASE WHEN until IS NULL THEN 99 ELSE CASE WHEN stay_seconds < 921600 THEN CASE WHEN stay_seconds < 28800 THEN CASE WHEN stay_seconds < 7200 THEN CASE WHEN stay_seconds < 3600 THEN 0 ELSE 1 END ELSE CASE WHEN stay_seconds < 14400 THEN 2 ELSE 3 END END ELSE CASE WHEN stay_seconds < 115200 THEN CASE WHEN stay_seconds < 57600 THEN 4 ELSE 5 END ELSE CASE WHEN stay_seconds < 230400 THEN 6 ELSE CASE WHEN stay_seconds < 460800 THEN 7 ELSE 8 END END END END ELSE CASE WHEN stay_seconds < 29491200 THEN CASE WHEN stay_seconds < 3686400 THEN CASE WHEN stay_seconds < 1843200 THEN 9 ELSE 10 END ELSE CASE WHEN stay_seconds < 7372800 THEN 11 ELSE CASE WHEN stay_seconds < 14745600 THEN 12 ELSE 13 END END END ELSE CASE WHEN stay_seconds < 117964800 THEN CASE WHEN stay_seconds < 58982400 THEN 14 ELSE 15 END ELSE CASE WHEN stay_seconds < 235929600 THEN 16 ELSE CASE WHEN stay_seconds < 471859200 THEN 17 ELSE 99 END END END END END END) STORED,
    PRIMARY KEY (traveller_id, depart, arrive, seq, request_id)
) WITHOUT ROWID;
INSERT INTO presence_legs_rebuilt (traveller_id, depart, arrive, seq, request_id, area_code, until)
SELECT traveller_id, depart, arrive, seq, request_id, area_code, until FROM presence_legs;
DROP TABLE presence_legs;
ALTER TABLE presence_legs_rebuilt RENAME TO presence_legs;

CREATE INDEX presence_legs_area ON presence_legs(area_code, stay_class, depart, until);
CREATE INDEX presence_legs_stay ON presence_legs(stay_class, depart, until, area_code);

CREATE TRIGGER presence_legs_delete AFTER DELETE ON legs
WHEN OLD.status NOT IN ('cancelled', 'denied') AND NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    DELETE FROM presence_legs
     WHERE traveller_id = (SELECT traveller_id FROM travel_requests WHERE id = OLD.request_id)
       AND depart = OLD.depart AND arrive = OLD.arrive AND seq = OLD.seq AND request_id = OLD.request_id;
END;

CREATE TRIGGER presence_legs_insert AFTER INSERT ON legs
WHEN NEW.status NOT IN ('cancelled', 'denied') AND NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code, until)
    SELECT traveller_id, NEW.depart, NEW.arrive, NEW.seq, NEW.request_id, NEW.area_code,
           (SELECT min(p.depart) FROM presence_legs p
             WHERE p.traveller_id = tr.traveller_id AND p.depart > NEW.depart)
      FROM travel_requests tr WHERE id = NEW.request_id;
END;

CREATE TRIGGER presence_legs_update AFTER UPDATE OF request_id, seq, area_code, depart, arrive, status ON legs
WHEN OLD.request_id IS NOT NEW.request_id OR OLD.seq IS NOT NEW.seq
  OR OLD.area_code IS NOT NEW.area_code OR OLD.depart IS NOT NEW.depart OR OLD.arrive IS NOT NEW.arrive
  OR (OLD.status IN ('cancelled', 'denied')) IS NOT (NEW.status IN ('cancelled', 'denied'))
BEGIN
    DELETE FROM presence_legs
     WHERE traveller_id = (SELECT traveller_id FROM travel_requests WHERE id = OLD.request_id)
       AND depart = OLD.depart AND arrive = OLD.arrive AND seq = OLD.seq AND request_id = OLD.request_id;
    INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code, until)
    SELECT traveller_id, NEW.depart, NEW.arrive, NEW.seq, NEW.request_id, NEW.area_code,
           (SELECT min(p.depart) FROM presence_legs p
             WHERE p.traveller_id = tr.traveller_id AND p.depart > NEW.depart)
      FROM travel_requests tr WHERE id = NEW.request_id AND NEW.status NOT IN ('cancelled', 'denied');
END;

CREATE TRIGGER presence_legs_traveller AFTER UPDATE OF traveller_id ON travel_requests
WHEN OLD.traveller_id IS NOT NEW.traveller_id AND NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    UPDATE presence_legs SET traveller_id = NEW.traveller_id
     WHERE traveller_id = OLD.traveller_id AND request_id = NEW.id;
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
