-- Who is where (issue 5): each traveller's live legs (cancelled and denied
-- legs are no evidence of travel), keyed by traveller and departure, so that
-- "the latest leg departed by a moment" and "the first after it" are one
-- index seek per person, and the legs into an area carry their traveller.
-- Kept by triggers on legs and travel_requests: no write path names it.
CREATE TABLE presence_legs (
    traveller_id TEXT NOT NULL,
    depart TEXT NOT NULL,
    arrive TEXT NOT NULL,
    seq INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    area_code TEXT NOT NULL,
    PRIMARY KEY (traveller_id, depart, arrive, seq, request_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX presence_legs_leg ON presence_legs(request_id, seq);
CREATE INDEX presence_legs_area ON presence_legs(area_code, depart);

INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code)
SELECT tr.traveller_id, l.depart, l.arrive, l.seq, l.request_id, l.area_code
  FROM legs l JOIN travel_requests tr ON tr.id = l.request_id
 WHERE l.status NOT IN ('cancelled', 'denied');

CREATE TRIGGER presence_legs_insert AFTER INSERT ON legs
WHEN NEW.status NOT IN ('cancelled', 'denied')
BEGIN
    INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code)
    SELECT traveller_id, NEW.depart, NEW.arrive, NEW.seq, NEW.request_id, NEW.area_code
      FROM travel_requests WHERE id = NEW.request_id;
END;

CREATE TRIGGER presence_legs_delete AFTER DELETE ON legs
WHEN OLD.status NOT IN ('cancelled', 'denied')
BEGIN
    DELETE FROM presence_legs WHERE request_id = OLD.request_id AND seq = OLD.seq;
END;

-- Only changes that matter: a leg's times, area or key, or its status
-- crossing between live and cancelled/denied (a decision between live
-- statuses changes nothing here).
CREATE TRIGGER presence_legs_update AFTER UPDATE OF request_id, seq, area_code, depart, arrive, status ON legs
WHEN OLD.request_id IS NOT NEW.request_id OR OLD.seq IS NOT NEW.seq
  OR OLD.area_code IS NOT NEW.area_code OR OLD.depart IS NOT NEW.depart OR OLD.arrive IS NOT NEW.arrive
  OR (OLD.status IN ('cancelled', 'denied')) IS NOT (NEW.status IN ('cancelled', 'denied'))
BEGIN
    DELETE FROM presence_legs WHERE request_id = OLD.request_id AND seq = OLD.seq;
    INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code)
    SELECT traveller_id, NEW.depart, NEW.arrive, NEW.seq, NEW.request_id, NEW.area_code
      FROM travel_requests WHERE id = NEW.request_id AND NEW.status NOT IN ('cancelled', 'denied');
END;

CREATE TRIGGER presence_legs_traveller AFTER UPDATE OF traveller_id ON travel_requests
WHEN OLD.traveller_id IS NOT NEW.traveller_id
BEGIN
    UPDATE presence_legs SET traveller_id = NEW.traveller_id WHERE request_id = NEW.id;
END;
