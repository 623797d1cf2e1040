-- TRIP: processing modes of areas, travel requests and their legs.

-- The current processing mode of an area; an area without a row is automatic.
CREATE TABLE area_modes (
    area_code text PRIMARY KEY REFERENCES areas(code),
    mode text NOT NULL CHECK (mode IN ('automatic', 'manual')),
    set_by uuid NOT NULL REFERENCES users(id),
    set_at timestamptz NOT NULL,
    reason text NOT NULL
);

-- Every change of an area's mode, with who, when and why.
CREATE TABLE area_mode_changes (
    id uuid PRIMARY KEY,
    area_code text NOT NULL REFERENCES areas(code),
    mode text NOT NULL CHECK (mode IN ('automatic', 'manual')),
    set_by uuid NOT NULL REFERENCES users(id),
    reason text NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX area_mode_changes_area ON area_mode_changes(area_code, at);

CREATE TABLE travel_requests (
    id uuid PRIMARY KEY,
    traveller_id uuid NOT NULL REFERENCES users(id),
    submitted_by uuid NOT NULL REFERENCES users(id),
    purpose text NOT NULL CHECK (purpose IN ('official', 'entitlement', 'personal')),
    ta_number text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX travel_requests_traveller ON travel_requests(traveller_id, created_at);

CREATE TABLE legs (
    request_id uuid NOT NULL REFERENCES travel_requests(id),
    seq integer NOT NULL CHECK (seq >= 1),
    origin text NOT NULL,
    destination text NOT NULL,
    area_code text NOT NULL REFERENCES areas(code),
    depart timestamptz NOT NULL,
    arrive timestamptz NOT NULL,
    depart_tz text,
    arrive_tz text,
    kind text NOT NULL CHECK (kind IN ('notification', 'clearance')),
    status text NOT NULL CHECK (status IN ('acknowledged', 'pending', 'granted', 'denied', 'returned', 'cancelled')),
    decided_by uuid REFERENCES users(id),
    decided_at timestamptz,
    grounds jsonb NOT NULL DEFAULT '[]'::jsonb,
    comment text NOT NULL DEFAULT '',
    PRIMARY KEY (request_id, seq)
);
-- The clearance queue: pending legs of an area (or, through areas, of a
-- country), oldest departure first.
CREATE INDEX legs_queue ON legs(status, area_code, depart);
-- Who travels where, when.
CREATE INDEX legs_area_time ON legs(area_code, depart);
