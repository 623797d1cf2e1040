-- Who is where (issue 5) under a whole ERP load (one transaction for a file
-- of a million TAs): the presence triggers of 0007 and 0010 stand aside
-- while the transaction has `warden.presence_deferred` set to 'on'
-- (`set_config(..., true)`: this transaction only, no other session sees
-- it). The load then writes the stays of every traveller it touched at its
-- end, from the legs, under the travellers' locks (the store's
-- `write_deferred_stays`), instead of once per batch statement: there the
-- triggers' joins and the rewrite of the stay before each new departure
-- were most of a first load's time. The functions are unchanged; each
-- trigger is recreated with the condition in its WHEN clause.
CREATE FUNCTION presence_deferred() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('warden.presence_deferred', true), '') = 'on'
$$;

DROP TRIGGER presence_legs_insert ON legs;
CREATE TRIGGER presence_legs_insert AFTER INSERT ON legs
REFERENCING NEW TABLE AS presence_new_legs
FOR EACH STATEMENT WHEN (NOT presence_deferred())
EXECUTE FUNCTION presence_legs_inserted();

DROP TRIGGER presence_legs_delete ON legs;
CREATE TRIGGER presence_legs_delete AFTER DELETE ON legs
REFERENCING OLD TABLE AS presence_old_legs
FOR EACH STATEMENT WHEN (NOT presence_deferred())
EXECUTE FUNCTION presence_legs_deleted();

DROP TRIGGER presence_legs_update ON legs;
CREATE TRIGGER presence_legs_update
AFTER UPDATE OF request_id, seq, area_code, depart, arrive, status ON legs
FOR EACH ROW WHEN (NOT presence_deferred() AND (
    OLD.request_id IS DISTINCT FROM NEW.request_id OR OLD.seq IS DISTINCT FROM NEW.seq
    OR OLD.area_code IS DISTINCT FROM NEW.area_code
    OR OLD.depart IS DISTINCT FROM NEW.depart OR OLD.arrive IS DISTINCT FROM NEW.arrive
    OR (OLD.status IN ('cancelled', 'denied'))
       IS DISTINCT FROM (NEW.status IN ('cancelled', 'denied'))))
EXECUTE FUNCTION presence_legs_sync();

DROP TRIGGER presence_legs_traveller ON travel_requests;
CREATE TRIGGER presence_legs_traveller AFTER UPDATE OF traveller_id ON travel_requests
FOR EACH ROW WHEN (NOT presence_deferred() AND OLD.traveller_id IS DISTINCT FROM NEW.traveller_id)
EXECUTE FUNCTION presence_legs_traveller();

DROP TRIGGER presence_stays_insert ON presence_legs;
CREATE TRIGGER presence_stays_insert AFTER INSERT ON presence_legs
REFERENCING NEW TABLE AS presence_stays_rows
FOR EACH STATEMENT WHEN (NOT presence_deferred())
EXECUTE FUNCTION presence_stays_changed();

DROP TRIGGER presence_stays_delete ON presence_legs;
CREATE TRIGGER presence_stays_delete AFTER DELETE ON presence_legs
REFERENCING OLD TABLE AS presence_stays_rows
FOR EACH STATEMENT WHEN (NOT presence_deferred())
EXECUTE FUNCTION presence_stays_changed();
