-- A load of travel authorisations in one transaction (`TaLoadMode::Whole`)
-- sets aside the indexes it does not read, among them `presence_legs_leg`,
-- and rebuilds them once at the end. While `presence_deferred` holds its
-- row, the writer therefore also removes the stays of the legs it replaces
-- itself (by traveller and request, the table's key), and these triggers,
-- which find a stay by its leg, stand aside like the insert triggers of
-- 0011. The stays next to the removed ones are still kept by
-- `presence_stays_delete`, which goes by the table's key.
DROP TRIGGER presence_legs_delete;
CREATE TRIGGER presence_legs_delete AFTER DELETE ON legs
WHEN OLD.status NOT IN ('cancelled', 'denied') AND NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    DELETE FROM presence_legs WHERE request_id = OLD.request_id AND seq = OLD.seq;
END;

DROP TRIGGER presence_legs_traveller;
CREATE TRIGGER presence_legs_traveller AFTER UPDATE OF traveller_id ON travel_requests
WHEN OLD.traveller_id IS NOT NEW.traveller_id AND NOT EXISTS (SELECT 1 FROM presence_deferred)
BEGIN
    UPDATE presence_legs SET traveller_id = NEW.traveller_id WHERE request_id = NEW.id;
END;
