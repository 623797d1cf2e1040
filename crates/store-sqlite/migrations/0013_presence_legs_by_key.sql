-- Who is where (issue 5), smaller: `presence_legs_leg` found a stay by its
-- leg for the triggers below, at the price of an index as large as a
-- tenth of a database of trips (each entry repeats the table's key). A
-- leg's stay is found by the table's own key instead: the traveller (the
-- request's, which the traveller trigger keeps equal) and the leg's
-- departure, arrival, number and request.
DROP INDEX presence_legs_leg;

DROP TRIGGER presence_legs_delete;
CREATE TRIGGER presence_legs_delete AFTER DELETE ON legs
WHEN OLD.status NOT IN ('cancelled', 'denied') AND NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    DELETE FROM presence_legs
     WHERE traveller_id = (SELECT traveller_id FROM travel_requests WHERE id = OLD.request_id)
       AND depart = OLD.depart AND arrive = OLD.arrive AND seq = OLD.seq AND request_id = OLD.request_id;
END;

DROP TRIGGER presence_legs_update;
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

DROP TRIGGER presence_legs_traveller;
CREATE TRIGGER presence_legs_traveller AFTER UPDATE OF traveller_id ON travel_requests
WHEN OLD.traveller_id IS NOT NEW.traveller_id AND NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    UPDATE presence_legs SET traveller_id = NEW.traveller_id
     WHERE traveller_id = OLD.traveller_id AND request_id = NEW.id;
END;
