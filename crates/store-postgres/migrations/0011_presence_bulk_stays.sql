-- Who is where (issue 5) under bulk writes: legs inserted by one statement
-- (an ERP batch of thousands) came into presence_legs with no stay end, and
-- the stays trigger of 0010 then wrote nearly every one of them a second
-- time (a new row version in every index). Each new leg now comes with the
-- end it will have: the traveller's next departure among the statement's
-- legs (a window over them) or in the table (one seek), whichever comes
-- first. The stays trigger still recomputes every stay at and before the
-- departures written, under the travellers' locks, and rewrites only those
-- that differ: a concurrent write to the same traveller is still settled
-- there.
CREATE OR REPLACE FUNCTION presence_legs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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
