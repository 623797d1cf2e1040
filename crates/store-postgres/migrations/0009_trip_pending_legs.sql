-- The clearance queue reads pending legs only: index those alone, by area
-- and departure, instead of every leg by status. Acknowledged, decided and
-- cancelled legs (most of them) then cost no entry here when a trip is
-- submitted or a travel authorisation imported.
DROP INDEX legs_queue;
CREATE INDEX legs_pending ON legs(area_code, depart) WHERE status = 'pending';
