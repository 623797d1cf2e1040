-- Who is where (issue 5) under bulk writes: a batch of travel
-- authorisations from an ERP inserts thousands of legs in one transaction.
-- Row by row, the triggers of 0010 write each leg's stay and then shorten
-- the stay before it, which may be a leg of the same batch written a moment
-- earlier (each leg written twice). While this table holds its row (only
-- ever inside the writing transaction, removed before it commits), the
-- insert triggers stand aside and the writer computes the batch's stays
-- set-wise instead: each new leg's end from the batch and the table at
-- once, then only the stays before them that changed.
CREATE TABLE presence_deferred (id INTEGER PRIMARY KEY CHECK (id = 1));

DROP TRIGGER presence_legs_insert;
CREATE TRIGGER presence_legs_insert AFTER INSERT ON legs
WHEN NEW.status NOT IN ('cancelled', 'denied') AND NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code, until)
    SELECT traveller_id, NEW.depart, NEW.arrive, NEW.seq, NEW.request_id, NEW.area_code,
           (SELECT min(p.depart) FROM presence_legs p
             WHERE p.traveller_id = tr.traveller_id AND p.depart > NEW.depart)
      FROM travel_requests tr WHERE id = NEW.request_id;
END;

DROP TRIGGER presence_stays_insert;
CREATE TRIGGER presence_stays_insert AFTER INSERT ON presence_legs
WHEN NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    UPDATE presence_legs SET until = NEW.depart
     WHERE traveller_id = NEW.traveller_id AND depart = (
        SELECT max(depart) FROM presence_legs
         WHERE traveller_id = NEW.traveller_id AND depart < NEW.depart)
       AND until IS NOT NEW.depart;
END;
