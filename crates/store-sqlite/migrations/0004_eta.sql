-- eTA: devices, where people are (area only), precise positions under a
-- tracking authorisation, freezes, undertakings, geo-alerts, answers to
-- "are you safe?". Location data is personal data: see the retention rules
-- in warden_domain::eta.

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    platform TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_seen_at TEXT,
    revoked_at TEXT
);
CREATE INDEX devices_user ON devices(user_id);

-- The area each person's phone last reported; no coordinates.
CREATE TABLE last_locations (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    device_id TEXT NOT NULL,
    area_code TEXT,
    since TEXT NOT NULL,
    reported_at TEXT NOT NULL
);
CREATE INDEX last_locations_area ON last_locations(area_code, reported_at);
CREATE INDEX last_locations_reported ON last_locations(reported_at);

CREATE TABLE tracking_authorisations (
    id TEXT PRIMARY KEY,
    area_code TEXT NOT NULL REFERENCES areas(code),
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    authorised_by TEXT NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    ended_at TEXT,
    ended_by TEXT REFERENCES users(id),
    end_reason TEXT,
    CHECK (ends_at > starts_at)
);
CREATE INDEX tracking_area ON tracking_authorisations(area_code, ends_at);

-- Precise positions: only under a tracking authorisation in force.
CREATE TABLE positions (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    tracking_id TEXT NOT NULL REFERENCES tracking_authorisations(id),
    area_code TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    accuracy_m REAL,
    recorded_at TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX positions_recorded ON positions(recorded_at);
CREATE INDEX positions_user ON positions(user_id, recorded_at);
CREATE INDEX positions_area ON positions(area_code, recorded_at);

CREATE TABLE location_freezes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    from_at TEXT NOT NULL,
    to_at TEXT NOT NULL,
    case_reference TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    lifted_at TEXT,
    lifted_by TEXT REFERENCES users(id),
    lift_reason TEXT,
    CHECK (to_at > from_at)
);
CREATE INDEX location_freezes_user ON location_freezes(user_id) WHERE lifted_at IS NULL;

CREATE TABLE location_undertakings (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    version TEXT NOT NULL,
    accepted_at TEXT NOT NULL
);

CREATE TABLE geo_alerts (
    id TEXT PRIMARY KEY,
    area_code TEXT NOT NULL REFERENCES areas(code),
    headline TEXT NOT NULL,
    description TEXT NOT NULL,
    instruction TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('extreme', 'severe', 'moderate', 'minor')),
    issued_by TEXT NOT NULL REFERENCES users(id),
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    recipients INTEGER NOT NULL
);
CREATE INDEX geo_alerts_area ON geo_alerts(area_code, issued_at);

CREATE TABLE wellbeing_reports (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    status TEXT NOT NULL CHECK (status IN ('safe', 'need_help')),
    dependants TEXT NOT NULL DEFAULT '[]',
    note TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    area_code TEXT,
    at TEXT NOT NULL
);
CREATE INDEX wellbeing_user ON wellbeing_reports(user_id, at);
