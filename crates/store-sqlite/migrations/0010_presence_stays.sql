-- Who is where (issue 5): each live leg is a stay, from its departure until
-- the traveller's next live leg departs (`until`; NULL while none follows),
-- so that the legs placing people at a moment are those whose stay covers
-- it, found by range scans instead of a seek per leg.
--
-- A B-tree cannot find the intervals covering a moment directly; grouping
-- them by length can: `stay_class` c holds stays shorter than 2^c hours
-- (c = 0 … 17), whose departure is therefore less than 2^c hours before
-- any moment they cover; 99 holds open stays and those of 2^17 hours or
-- more. A moment is then one range per class (`warden_store::stay_classes`
-- gives the bounds, and must agree with the CASE below).
ALTER TABLE presence_legs ADD COLUMN until TEXT;
ALTER TABLE presence_legs ADD COLUMN stay_class INTEGER GENERATED ALWAYS AS (
    CASE WHEN until IS NULL THEN 99
         WHEN unixepoch(until) - unixepoch(depart) < 3600 THEN 0
         WHEN unixepoch(until) - unixepoch(depart) < 7200 THEN 1
         WHEN unixepoch(until) - unixepoch(depart) < 14400 THEN 2
         WHEN unixepoch(until) - unixepoch(depart) < 28800 THEN 3
         WHEN unixepoch(until) - unixepoch(depart) < 57600 THEN 4
         WHEN unixepoch(until) - unixepoch(depart) < 115200 THEN 5
         WHEN unixepoch(until) - unixepoch(depart) < 230400 THEN 6
         WHEN unixepoch(until) - unixepoch(depart) < 460800 THEN 7
         WHEN unixepoch(until) - unixepoch(depart) < 921600 THEN 8
         WHEN unixepoch(until) - unixepoch(depart) < 1843200 THEN 9
         WHEN unixepoch(until) - unixepoch(depart) < 3686400 THEN 10
         WHEN unixepoch(until) - unixepoch(depart) < 7372800 THEN 11
         WHEN unixepoch(until) - unixepoch(depart) < 14745600 THEN 12
         WHEN unixepoch(until) - unixepoch(depart) < 29491200 THEN 13
         WHEN unixepoch(until) - unixepoch(depart) < 58982400 THEN 14
         WHEN unixepoch(until) - unixepoch(depart) < 117964800 THEN 15
         WHEN unixepoch(until) - unixepoch(depart) < 235929600 THEN 16
         WHEN unixepoch(until) - unixepoch(depart) < 471859200 THEN 17
         ELSE 99 END) VIRTUAL;

UPDATE presence_legs SET until = (
    SELECT min(p2.depart) FROM presence_legs p2
     WHERE p2.traveller_id = presence_legs.traveller_id AND p2.depart > presence_legs.depart);

-- One area at a moment: per class, one range of departures; the stay's end
-- and its traveller (the table's key) come with the index.
DROP INDEX presence_legs_area;
CREATE INDEX presence_legs_area ON presence_legs(area_code, stay_class, depart, until);
-- Every area at a moment: likewise over all areas.
CREATE INDEX presence_legs_stay ON presence_legs(stay_class, depart, until, area_code);

-- A leg written from legs (the triggers of 0007, re-created here) comes
-- with its stay's end: the departure of the traveller's first live leg
-- after it.
DROP TRIGGER presence_legs_insert;
CREATE TRIGGER presence_legs_insert AFTER INSERT ON legs
WHEN NEW.status NOT IN ('cancelled', 'denied')
BEGIN
    INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code, until)
    SELECT traveller_id, NEW.depart, NEW.arrive, NEW.seq, NEW.request_id, NEW.area_code,
           (SELECT min(p.depart) FROM presence_legs p
             WHERE p.traveller_id = tr.traveller_id AND p.depart > NEW.depart)
      FROM travel_requests tr WHERE id = NEW.request_id;
END;

DROP TRIGGER presence_legs_update;
CREATE TRIGGER presence_legs_update AFTER UPDATE OF request_id, seq, area_code, depart, arrive, status ON legs
WHEN OLD.request_id IS NOT NEW.request_id OR OLD.seq IS NOT NEW.seq
  OR OLD.area_code IS NOT NEW.area_code OR OLD.depart IS NOT NEW.depart OR OLD.arrive IS NOT NEW.arrive
  OR (OLD.status IN ('cancelled', 'denied')) IS NOT (NEW.status IN ('cancelled', 'denied'))
BEGIN
    DELETE FROM presence_legs WHERE request_id = OLD.request_id AND seq = OLD.seq;
    INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code, until)
    SELECT traveller_id, NEW.depart, NEW.arrive, NEW.seq, NEW.request_id, NEW.area_code,
           (SELECT min(p.depart) FROM presence_legs p
             WHERE p.traveller_id = tr.traveller_id AND p.depart > NEW.depart)
      FROM travel_requests tr WHERE id = NEW.request_id AND NEW.status NOT IN ('cancelled', 'denied');
END;

-- The other stays are kept by triggers on presence_legs itself: a
-- traveller's stays change only around the departure of a leg added,
-- removed or handed to another traveller. Stays are recomputed from the
-- table, never shifted, so that rows changed one by one in one statement
-- leave every stay right. A leg added (its own end written above) ends the
-- stay before it, unless a leg departing with it was already there.
CREATE TRIGGER presence_stays_insert AFTER INSERT ON presence_legs
BEGIN
    UPDATE presence_legs SET until = NEW.depart
     WHERE traveller_id = NEW.traveller_id AND depart = (
        SELECT max(depart) FROM presence_legs
         WHERE traveller_id = NEW.traveller_id AND depart < NEW.depart)
       AND until IS NOT NEW.depart;
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
