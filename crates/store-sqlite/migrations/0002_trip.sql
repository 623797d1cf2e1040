-- TRIP: processing modes per area, travel requests and their legs.
CREATE TABLE area_modes (
    area_code TEXT PRIMARY KEY REFERENCES areas(code),
    mode TEXT NOT NULL CHECK (mode IN ('automatic', 'manual')),
    set_by TEXT NOT NULL REFERENCES users(id),
    set_at TEXT NOT NULL,
    reason TEXT NOT NULL
);

CREATE TABLE area_mode_changes (
    id TEXT PRIMARY KEY,
    area_code TEXT NOT NULL REFERENCES areas(code),
    mode TEXT NOT NULL,
    set_by TEXT NOT NULL REFERENCES users(id),
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX area_mode_changes_area ON area_mode_changes(area_code, at);

CREATE TABLE travel_requests (
    id TEXT PRIMARY KEY,
    traveller_id TEXT NOT NULL REFERENCES users(id),
    submitted_by TEXT NOT NULL REFERENCES users(id),
    purpose TEXT NOT NULL CHECK (purpose IN ('official', 'entitlement', 'personal')),
    ta_number TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX travel_requests_traveller ON travel_requests(traveller_id, created_at);

CREATE TABLE legs (
    request_id TEXT NOT NULL REFERENCES travel_requests(id),
    seq INTEGER NOT NULL,
    origin TEXT NOT NULL,
    destination TEXT NOT NULL,
    area_code TEXT NOT NULL REFERENCES areas(code),
    depart TEXT NOT NULL,
    arrive TEXT NOT NULL,
    depart_tz TEXT,
    arrive_tz TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('notification', 'clearance')),
    status TEXT NOT NULL,
    decided_by TEXT REFERENCES users(id),
    decided_at TEXT,
    grounds TEXT NOT NULL DEFAULT '[]',
    comment TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (request_id, seq)
);
CREATE INDEX legs_queue ON legs(status, area_code, depart);
CREATE INDEX legs_area_time ON legs(area_code, depart);
