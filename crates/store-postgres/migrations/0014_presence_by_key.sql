-- presence_legs loses its index by leg, (request_id, seq): after a first
-- ERP load of a million TAs it was 102 MB of the table's 600 MB, and about
-- 3 s of the 18 s its 1.5 million stays took to write (BENCHMARKS.md, "ERP
-- import"). The triggers that found a leg's stay by it now find it by the
-- primary key: the traveller of the leg's request, and the leg's
-- departure, arrival, sequence and request. A stay's traveller is always
-- its request's (presence_legs_traveller moves the stays of a request
-- handed to another traveller in the statement that hands it over).
DROP INDEX presence_legs_leg;

CREATE OR REPLACE FUNCTION presence_legs_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM presence_legs p USING travel_requests tr
         WHERE tr.id = OLD.request_id AND p.traveller_id = tr.traveller_id AND p.depart = OLD.depart
           AND p.arrive = OLD.arrive AND p.seq = OLD.seq AND p.request_id = OLD.request_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status NOT IN ('cancelled', 'denied') THEN
        INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code)
        SELECT traveller_id, NEW.depart, NEW.arrive, NEW.seq, NEW.request_id, NEW.area_code
          FROM travel_requests WHERE id = NEW.request_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION presence_legs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM presence_legs p USING presence_old_legs o JOIN travel_requests tr ON tr.id = o.request_id
     WHERE p.traveller_id = tr.traveller_id AND p.depart = o.depart AND p.arrive = o.arrive
       AND p.seq = o.seq AND p.request_id = o.request_id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION presence_legs_traveller() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE presence_legs SET traveller_id = NEW.traveller_id
     WHERE traveller_id = OLD.traveller_id AND request_id = OLD.id;
    PERFORM presence_stays_refresh(ARRAY[OLD.traveller_id, NEW.traveller_id]);
    RETURN NULL;
END
$$;
