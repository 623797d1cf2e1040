-- Who is where (issue 5) under a whole ERP load (one transaction for a file
-- of a million TAs): the presence triggers of 0007, 0010 and 0011 stand
-- aside while the transaction has `warden.presence_deferred` set to 'on'
-- (`set_config(..., true)`: this transaction only, no other session sees
-- it). The load then writes the stays of every traveller it touched at its
-- end, from the legs, under the travellers' locks (the store's
-- `write_deferred_stays`), instead of once per batch statement: there the
-- triggers' joins and the rewrite of the stay before each new departure
-- were most of a first load's time.
CREATE FUNCTION presence_deferred() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('warden.presence_deferred', true), '') = 'on'
$$;

CREATE OR REPLACE FUNCTION presence_legs_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF presence_deferred() THEN
        RETURN NULL;
    END IF;
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

CREATE OR REPLACE FUNCTION presence_legs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF presence_deferred() THEN
        RETURN NULL;
    END IF;
    INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code, until)
    WITH n AS (SELECT tr.traveller_id, l.depart, l.arrive, l.seq, l.request_id, l.area_code
                 FROM presence_new_legs l JOIN travel_requests tr ON tr.id = l.request_id
                WHERE l.status NOT IN ('cancelled', 'denied')),
         d AS (SELECT traveller_id, depart,
                      lead(depart) OVER (PARTITION BY traveller_id ORDER BY depart) AS next
                 FROM (SELECT DISTINCT traveller_id, depart FROM n) x)
    SELECT n.traveller_id, n.depart, n.arrive, n.seq, n.request_id, n.area_code,
           LEAST(d.next, (SELECT min(q.depart) FROM presence_legs q
                           WHERE q.traveller_id = n.traveller_id AND q.depart > n.depart))
      FROM n JOIN d ON d.traveller_id = n.traveller_id AND d.depart = n.depart;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION presence_legs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF presence_deferred() THEN
        RETURN NULL;
    END IF;
    DELETE FROM presence_legs p USING presence_old_legs o
     WHERE p.request_id = o.request_id AND p.seq = o.seq;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION presence_legs_traveller() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF presence_deferred() THEN
        RETURN NULL;
    END IF;
    UPDATE presence_legs SET traveller_id = NEW.traveller_id WHERE request_id = NEW.id;
    PERFORM presence_stays_refresh(ARRAY[OLD.traveller_id, NEW.traveller_id]);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION presence_stays_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF presence_deferred() THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM users WHERE id IN (SELECT traveller_id FROM presence_stays_rows)
     ORDER BY id FOR NO KEY UPDATE;
    UPDATE presence_legs p SET until = n.next
      FROM (SELECT a.traveller_id, a.depart,
                   (SELECT min(q.depart) FROM presence_legs q
                     WHERE q.traveller_id = a.traveller_id AND q.depart > a.depart) AS next
              FROM (SELECT DISTINCT c.traveller_id, d.depart
                      FROM (SELECT DISTINCT traveller_id, depart FROM presence_stays_rows) c
                     CROSS JOIN LATERAL (VALUES (c.depart),
                           ((SELECT max(b.depart) FROM presence_legs b
                              WHERE b.traveller_id = c.traveller_id AND b.depart < c.depart))) d(depart)
                     WHERE d.depart IS NOT NULL) a) n
     WHERE p.traveller_id = n.traveller_id AND p.depart = n.depart
       AND p.until IS DISTINCT FROM n.next;
    RETURN NULL;
END
$$;
