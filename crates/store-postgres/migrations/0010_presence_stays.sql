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
ALTER TABLE presence_legs ADD COLUMN until timestamptz;

UPDATE presence_legs p SET until = n.next
  FROM (SELECT traveller_id, depart,
               lead(depart) OVER (PARTITION BY traveller_id ORDER BY depart) AS next
          FROM (SELECT DISTINCT traveller_id, depart FROM presence_legs) d) n
 WHERE p.traveller_id = n.traveller_id AND p.depart = n.depart AND n.next IS NOT NULL;

ALTER TABLE presence_legs ADD COLUMN stay_class smallint NOT NULL GENERATED ALWAYS AS (
    CASE WHEN until IS NULL THEN 99
         WHEN until - depart < interval '3600 seconds' THEN 0
         WHEN until - depart < interval '7200 seconds' THEN 1
         WHEN until - depart < interval '14400 seconds' THEN 2
         WHEN until - depart < interval '28800 seconds' THEN 3
         WHEN until - depart < interval '57600 seconds' THEN 4
         WHEN until - depart < interval '115200 seconds' THEN 5
         WHEN until - depart < interval '230400 seconds' THEN 6
         WHEN until - depart < interval '460800 seconds' THEN 7
         WHEN until - depart < interval '921600 seconds' THEN 8
         WHEN until - depart < interval '1843200 seconds' THEN 9
         WHEN until - depart < interval '3686400 seconds' THEN 10
         WHEN until - depart < interval '7372800 seconds' THEN 11
         WHEN until - depart < interval '14745600 seconds' THEN 12
         WHEN until - depart < interval '29491200 seconds' THEN 13
         WHEN until - depart < interval '58982400 seconds' THEN 14
         WHEN until - depart < interval '117964800 seconds' THEN 15
         WHEN until - depart < interval '235929600 seconds' THEN 16
         WHEN until - depart < interval '471859200 seconds' THEN 17
         ELSE 99 END) STORED;

-- One area at a moment: per class, one range of departures; the stay's end
-- and its traveller come with the index.
DROP INDEX presence_legs_area;
CREATE INDEX presence_legs_area ON presence_legs(area_code, stay_class, depart)
    INCLUDE (until, traveller_id);
-- Every area at a moment: likewise over all areas, with the whole leg.
CREATE INDEX presence_legs_stay ON presence_legs(stay_class, depart)
    INCLUDE (until, traveller_id, area_code, arrive, seq, request_id);

-- Kept once per statement from the rows it added or removed (the triggers
-- of 0007 write presence_legs from legs and travel_requests): the stays
-- that can have changed are those at each departure added or removed and
-- the traveller's latest before it; each is recomputed from the table
-- (never shifted), so any mix of rows in one statement leaves every stay
-- right. The travellers' user rows are locked first, so that two
-- transactions changing one traveller's legs take turns and the second
-- recomputes from what the first committed (each statement of the
-- function reads a fresh snapshot).
CREATE FUNCTION presence_stays_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

-- All the stays of some travellers (a request handed to another traveller
-- moves its legs between two), under the same lock.
CREATE FUNCTION presence_stays_refresh(travellers uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM users WHERE id = ANY(travellers) ORDER BY id FOR NO KEY UPDATE;
    UPDATE presence_legs p SET until = n.next
      FROM (SELECT traveller_id, depart,
                   lead(depart) OVER (PARTITION BY traveller_id ORDER BY depart) AS next
              FROM (SELECT DISTINCT traveller_id, depart FROM presence_legs
                     WHERE traveller_id = ANY(travellers)) d) n
     WHERE p.traveller_id = n.traveller_id AND p.depart = n.depart
       AND p.until IS DISTINCT FROM n.next;
END
$$;

CREATE TRIGGER presence_stays_insert AFTER INSERT ON presence_legs
REFERENCING NEW TABLE AS presence_stays_rows
FOR EACH STATEMENT EXECUTE FUNCTION presence_stays_changed();

CREATE TRIGGER presence_stays_delete AFTER DELETE ON presence_legs
REFERENCING OLD TABLE AS presence_stays_rows
FOR EACH STATEMENT EXECUTE FUNCTION presence_stays_changed();

-- A request handed to another traveller moves its legs: both travellers'
-- stays change.
CREATE OR REPLACE FUNCTION presence_legs_traveller() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE presence_legs SET traveller_id = NEW.traveller_id WHERE request_id = NEW.id;
    PERFORM presence_stays_refresh(ARRAY[OLD.traveller_id, NEW.traveller_id]);
    RETURN NULL;
END
$$;
