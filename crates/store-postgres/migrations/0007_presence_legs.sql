-- Who is where (issue 5): each traveller's live legs (cancelled and denied
-- legs are no evidence of travel), keyed by traveller and departure, so that
-- "the latest leg departed by a moment" and "the first after it" are one
-- index seek per person, and the legs into an area carry their traveller.
-- Kept by triggers on legs and travel_requests: no write path names it.
CREATE TABLE presence_legs (
    traveller_id uuid NOT NULL,
    depart timestamptz NOT NULL,
    arrive timestamptz NOT NULL,
    seq integer NOT NULL,
    request_id uuid NOT NULL,
    area_code text NOT NULL,
    PRIMARY KEY (traveller_id, depart, arrive, seq, request_id) INCLUDE (area_code)
);
CREATE UNIQUE INDEX presence_legs_leg ON presence_legs(request_id, seq);
CREATE INDEX presence_legs_area ON presence_legs(area_code, depart) INCLUDE (traveller_id);

INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code)
SELECT tr.traveller_id, l.depart, l.arrive, l.seq, l.request_id, l.area_code
  FROM legs l JOIN travel_requests tr ON tr.id = l.request_id
 WHERE l.status NOT IN ('cancelled', 'denied');

CREATE FUNCTION presence_legs_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM presence_legs WHERE request_id = OLD.request_id AND seq = OLD.seq;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status NOT IN ('cancelled', 'denied') THEN
        INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code)
        SELECT traveller_id, NEW.depart, NEW.arrive, NEW.seq, NEW.request_id, NEW.area_code
          FROM travel_requests WHERE id = NEW.request_id;
    END IF;
    RETURN NULL;
END
$$;

-- Inserts and deletes set-wise, once per statement (bulk imports insert
-- many legs in one statement).
CREATE FUNCTION presence_legs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code)
    SELECT tr.traveller_id, n.depart, n.arrive, n.seq, n.request_id, n.area_code
      FROM presence_new_legs n JOIN travel_requests tr ON tr.id = n.request_id
     WHERE n.status NOT IN ('cancelled', 'denied');
    RETURN NULL;
END
$$;

CREATE TRIGGER presence_legs_insert AFTER INSERT ON legs
REFERENCING NEW TABLE AS presence_new_legs
FOR EACH STATEMENT EXECUTE FUNCTION presence_legs_inserted();

CREATE FUNCTION presence_legs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM presence_legs p USING presence_old_legs o
     WHERE p.request_id = o.request_id AND p.seq = o.seq;
    RETURN NULL;
END
$$;

CREATE TRIGGER presence_legs_delete AFTER DELETE ON legs
REFERENCING OLD TABLE AS presence_old_legs
FOR EACH STATEMENT EXECUTE FUNCTION presence_legs_deleted();

-- Only changes that matter: a leg's times, area or key, or its status
-- crossing between live and cancelled/denied (a decision between live
-- statuses changes nothing here).
CREATE TRIGGER presence_legs_update AFTER UPDATE OF request_id, seq, area_code, depart, arrive, status ON legs
FOR EACH ROW WHEN (OLD.request_id IS DISTINCT FROM NEW.request_id OR OLD.seq IS DISTINCT FROM NEW.seq
  OR OLD.area_code IS DISTINCT FROM NEW.area_code OR OLD.depart IS DISTINCT FROM NEW.depart
  OR OLD.arrive IS DISTINCT FROM NEW.arrive
  OR (OLD.status IN ('cancelled', 'denied')) IS DISTINCT FROM (NEW.status IN ('cancelled', 'denied')))
EXECUTE FUNCTION presence_legs_sync();

CREATE FUNCTION presence_legs_traveller() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE presence_legs SET traveller_id = NEW.traveller_id WHERE request_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER presence_legs_traveller AFTER UPDATE OF traveller_id ON travel_requests
FOR EACH ROW WHEN (OLD.traveller_id IS DISTINCT FROM NEW.traveller_id)
EXECUTE FUNCTION presence_legs_traveller();
