-- The references of legs and travel_requests are checked once per statement
-- instead of once per row.
--
-- A foreign key checks each inserted row with a query of its own per
-- reference. legs has three (its request, area and decider) and
-- travel_requests three (traveller, submitter, agency): a first ERP load of
-- a million TAs, 1.5 million legs, ran 6 million such queries (a NULL
-- decider needs none), a third of its time (BENCHMARKS.md, "ERP import").
--
-- The triggers below check a statement's new rows as one set. They
-- key-share-lock the rows referenced, in key order, as the per-row checks
-- locked them one at a time: a concurrent delete of one waits for this
-- transaction, and then finds it referenced. They raise PostgreSQL's own
-- error for a reference without its row (SQLSTATE 23503, with the former
-- constraint's name, message and detail), so callers see no difference.
-- An update checks only the references it changes, as a foreign key does.
-- The referenced tables refuse, once per row, to delete or re-key a row
-- still referenced (as NO ACTION did), and to be truncated while a table
-- referencing them holds rows.

ALTER TABLE legs
    DROP CONSTRAINT legs_request_id_fkey,
    DROP CONSTRAINT legs_area_code_fkey,
    DROP CONSTRAINT legs_decided_by_fkey;
ALTER TABLE travel_requests
    DROP CONSTRAINT travel_requests_traveller_id_fkey,
    DROP CONSTRAINT travel_requests_submitted_by_fkey,
    DROP CONSTRAINT travel_requests_agency_id_fkey;

-- Locks the rows of `ref_table` whose `ref_col` is one of `keys` (distinct,
-- none NULL) FOR KEY SHARE, in key order, and raises for a key without its
-- row (constraint `cons`, column `col` of table `tbl`) with PostgreSQL's own
-- error for a foreign key. A row committed between the lock and the search
-- for the missing key is locked on the next round. Its queries are planned
-- at each call: the triggers below call it only for the rare references
-- (an agency, a decider, a changed reference) and when their own lock came
-- up short.
CREATE FUNCTION trip_refs_hold(keys anyarray, ref_table text, ref_col text, tbl text, col text, cons text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    locked bigint;
    missing text;
BEGIN
    WHILE cardinality(keys) > 0 LOOP
        EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %I WHERE %I = ANY($1) ORDER BY %I FOR KEY SHARE) x',
                       ref_table, ref_col, ref_col)
            INTO locked USING keys;
        EXIT WHEN locked = cardinality(keys);
        EXECUTE format('SELECT k::text FROM unnest($1) k WHERE NOT EXISTS (SELECT 1 FROM %I r WHERE r.%I = k) LIMIT 1',
                       ref_table, ref_col)
            INTO missing USING keys;
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"', tbl, cons
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = cons, TABLE = tbl,
                      DETAIL = format('Key (%s)=(%s) is not present in table "%s".', col, missing, ref_table);
        END IF;
    END LOOP;
END
$$;

-- The usual case costs one query to gather the statement's keys and one
-- to lock each table's rows; only a count that falls short goes on to
-- find the missing key (as small a statement as a submission's two legs
-- then costs about what its foreign keys' queries did).
CREATE FUNCTION legs_refs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    requests uuid[];
    codes text[];
    deciders uuid[];
    locked bigint;
BEGIN
    SELECT coalesce(array_agg(DISTINCT request_id), '{}'), coalesce(array_agg(DISTINCT area_code), '{}'),
           coalesce(array_agg(DISTINCT decided_by) FILTER (WHERE decided_by IS NOT NULL), '{}')
      INTO requests, codes, deciders FROM legs_refs_new;
    SELECT count(*) INTO locked
      FROM (SELECT 1 FROM travel_requests WHERE id = ANY(requests) ORDER BY id FOR KEY SHARE) x;
    IF locked < cardinality(requests) THEN
        PERFORM trip_refs_hold(requests, 'travel_requests', 'id', 'legs', 'request_id',
                               'legs_request_id_fkey');
    END IF;
    SELECT count(*) INTO locked
      FROM (SELECT 1 FROM areas WHERE code = ANY(codes) ORDER BY code FOR KEY SHARE) x;
    IF locked < cardinality(codes) THEN
        PERFORM trip_refs_hold(codes, 'areas', 'code', 'legs', 'area_code', 'legs_area_code_fkey');
    END IF;
    IF cardinality(deciders) > 0 THEN
        PERFORM trip_refs_hold(deciders, 'users', 'id', 'legs', 'decided_by', 'legs_decided_by_fkey');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER legs_refs_insert AFTER INSERT ON legs
REFERENCING NEW TABLE AS legs_refs_new
FOR EACH STATEMENT EXECUTE FUNCTION legs_refs_inserted();

CREATE FUNCTION legs_refs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.request_id IS DISTINCT FROM OLD.request_id THEN
        PERFORM trip_refs_hold(ARRAY[NEW.request_id], 'travel_requests', 'id', 'legs', 'request_id',
                               'legs_request_id_fkey');
    END IF;
    IF NEW.area_code IS DISTINCT FROM OLD.area_code THEN
        PERFORM trip_refs_hold(ARRAY[NEW.area_code], 'areas', 'code', 'legs', 'area_code', 'legs_area_code_fkey');
    END IF;
    IF NEW.decided_by IS DISTINCT FROM OLD.decided_by AND NEW.decided_by IS NOT NULL THEN
        PERFORM trip_refs_hold(ARRAY[NEW.decided_by], 'users', 'id', 'legs', 'decided_by', 'legs_decided_by_fkey');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER legs_refs_update AFTER UPDATE OF request_id, area_code, decided_by ON legs
FOR EACH ROW WHEN (OLD.request_id IS DISTINCT FROM NEW.request_id
                   OR OLD.area_code IS DISTINCT FROM NEW.area_code
                   OR OLD.decided_by IS DISTINCT FROM NEW.decided_by)
EXECUTE FUNCTION legs_refs_updated();

CREATE FUNCTION travel_requests_refs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    travellers uuid[];
    submitters uuid[];
    people uuid[];
    agency_ids uuid[];
    locked bigint;
BEGIN
    SELECT coalesce(array_agg(DISTINCT traveller_id), '{}'), coalesce(array_agg(DISTINCT submitted_by), '{}'),
           coalesce(array_agg(DISTINCT agency_id) FILTER (WHERE agency_id IS NOT NULL), '{}')
      INTO travellers, submitters, agency_ids FROM travel_requests_refs_new;
    people := ARRAY(SELECT DISTINCT u FROM unnest(travellers || submitters) u);
    SELECT count(*) INTO locked
      FROM (SELECT 1 FROM users WHERE id = ANY(people) ORDER BY id FOR KEY SHARE) x;
    IF locked < cardinality(people) THEN
        PERFORM trip_refs_hold(travellers, 'users', 'id', 'travel_requests', 'traveller_id',
                               'travel_requests_traveller_id_fkey');
        PERFORM trip_refs_hold(submitters, 'users', 'id', 'travel_requests', 'submitted_by',
                               'travel_requests_submitted_by_fkey');
    END IF;
    IF cardinality(agency_ids) > 0 THEN
        PERFORM trip_refs_hold(agency_ids, 'agencies', 'id', 'travel_requests', 'agency_id',
                               'travel_requests_agency_id_fkey');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER travel_requests_refs_insert AFTER INSERT ON travel_requests
REFERENCING NEW TABLE AS travel_requests_refs_new
FOR EACH STATEMENT EXECUTE FUNCTION travel_requests_refs_inserted();

CREATE FUNCTION travel_requests_refs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.traveller_id IS DISTINCT FROM OLD.traveller_id THEN
        PERFORM trip_refs_hold(ARRAY[NEW.traveller_id], 'users', 'id', 'travel_requests', 'traveller_id',
                               'travel_requests_traveller_id_fkey');
    END IF;
    IF NEW.submitted_by IS DISTINCT FROM OLD.submitted_by THEN
        PERFORM trip_refs_hold(ARRAY[NEW.submitted_by], 'users', 'id', 'travel_requests', 'submitted_by',
                               'travel_requests_submitted_by_fkey');
    END IF;
    IF NEW.agency_id IS DISTINCT FROM OLD.agency_id AND NEW.agency_id IS NOT NULL THEN
        PERFORM trip_refs_hold(ARRAY[NEW.agency_id], 'agencies', 'id', 'travel_requests', 'agency_id',
                               'travel_requests_agency_id_fkey');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER travel_requests_refs_update AFTER UPDATE OF traveller_id, submitted_by, agency_id ON travel_requests
FOR EACH ROW WHEN (OLD.traveller_id IS DISTINCT FROM NEW.traveller_id
                   OR OLD.submitted_by IS DISTINCT FROM NEW.submitted_by
                   OR OLD.agency_id IS DISTINCT FROM NEW.agency_id)
EXECUTE FUNCTION travel_requests_refs_updated();

-- The referenced side: a row deleted, or its key changed, must leave no
-- reference behind. The trigger's arguments are the key column, then a
-- (table, column, constraint) triple per reference. Its queries run after
-- the row is gone and see what other transactions committed: one that
-- inserted a reference held the row's key-share lock, so the delete
-- waited for its commit and now sees its rows.
CREATE FUNCTION trip_refs_kept() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_col text := TG_ARGV[0];
    i integer := 1;
    referenced boolean;
BEGIN
    WHILE i + 2 < TG_NARGS LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I r WHERE r.%I = ($1).%I)', TG_ARGV[i], TG_ARGV[i + 1], key_col)
            INTO referenced USING OLD;
        IF referenced THEN
            RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint "%" on table "%"',
                    TG_TABLE_NAME, TG_ARGV[i + 2], TG_ARGV[i]
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_ARGV[i + 2], TABLE = TG_ARGV[i],
                      DETAIL = format('Key (%s)=(%s) is still referenced from table "%s".',
                                      key_col, to_jsonb(OLD) ->> key_col, TG_ARGV[i]);
        END IF;
        i := i + 3;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER trip_refs_kept_delete AFTER DELETE ON travel_requests
FOR EACH ROW EXECUTE FUNCTION trip_refs_kept('id', 'legs', 'request_id', 'legs_request_id_fkey');
CREATE TRIGGER trip_refs_kept_update AFTER UPDATE OF id ON travel_requests
FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
EXECUTE FUNCTION trip_refs_kept('id', 'legs', 'request_id', 'legs_request_id_fkey');

CREATE TRIGGER trip_refs_kept_delete AFTER DELETE ON areas
FOR EACH ROW EXECUTE FUNCTION trip_refs_kept('code', 'legs', 'area_code', 'legs_area_code_fkey');
CREATE TRIGGER trip_refs_kept_update AFTER UPDATE OF code ON areas
FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code)
EXECUTE FUNCTION trip_refs_kept('code', 'legs', 'area_code', 'legs_area_code_fkey');

CREATE TRIGGER trip_refs_kept_delete AFTER DELETE ON users
FOR EACH ROW EXECUTE FUNCTION trip_refs_kept('id',
    'travel_requests', 'traveller_id', 'travel_requests_traveller_id_fkey',
    'travel_requests', 'submitted_by', 'travel_requests_submitted_by_fkey',
    'legs', 'decided_by', 'legs_decided_by_fkey');
CREATE TRIGGER trip_refs_kept_update AFTER UPDATE OF id ON users
FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
EXECUTE FUNCTION trip_refs_kept('id',
    'travel_requests', 'traveller_id', 'travel_requests_traveller_id_fkey',
    'travel_requests', 'submitted_by', 'travel_requests_submitted_by_fkey',
    'legs', 'decided_by', 'legs_decided_by_fkey');

CREATE TRIGGER trip_refs_kept_delete AFTER DELETE ON agencies
FOR EACH ROW EXECUTE FUNCTION trip_refs_kept('id', 'travel_requests', 'agency_id', 'travel_requests_agency_id_fkey');
CREATE TRIGGER trip_refs_kept_update AFTER UPDATE OF id ON agencies
FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
EXECUTE FUNCTION trip_refs_kept('id', 'travel_requests', 'agency_id', 'travel_requests_agency_id_fkey');

-- TRUNCATE fires no row trigger: a referenced table is emptied only after
-- the tables that reference it (the trigger's arguments) are empty. A
-- foreign key also let both go in one command; this asks for two.
CREATE FUNCTION trip_refs_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    i integer := 0;
    referenced boolean;
BEGIN
    WHILE i < TG_NARGS LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', TG_ARGV[i]) INTO referenced;
        IF referenced THEN
            RAISE EXCEPTION 'cannot truncate a table referenced in a foreign key constraint'
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = format('Table "%s" references "%s".', TG_ARGV[i], TG_TABLE_NAME),
                      HINT = format('Empty table "%s" first.', TG_ARGV[i]);
        END IF;
        i := i + 1;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER trip_refs_truncate BEFORE TRUNCATE ON travel_requests
FOR EACH STATEMENT EXECUTE FUNCTION trip_refs_truncated('legs');
CREATE TRIGGER trip_refs_truncate BEFORE TRUNCATE ON areas
FOR EACH STATEMENT EXECUTE FUNCTION trip_refs_truncated('legs');
CREATE TRIGGER trip_refs_truncate BEFORE TRUNCATE ON users
FOR EACH STATEMENT EXECUTE FUNCTION trip_refs_truncated('travel_requests', 'legs');
CREATE TRIGGER trip_refs_truncate BEFORE TRUNCATE ON agencies
FOR EACH STATEMENT EXECUTE FUNCTION trip_refs_truncated('travel_requests');
