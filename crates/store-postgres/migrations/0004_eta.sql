-- eTA: devices, where people are (area only), precise positions under a
-- tracking authorisation, freezes, undertakings, geo-alerts, answers to
-- "are you safe?". Location data is personal data: see the retention rules
-- in warden_domain::eta. Same tables and columns as the SQLite schema.

CREATE TABLE devices (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id),
    name text NOT NULL,
    platform text NOT NULL,
    -- SHA-256 of the device token; the token itself is never stored.
    token_digest text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX devices_user ON devices(user_id);

-- The area each person's phone last reported; no coordinates. A NULL area
-- is a report outside every area (at sea).
CREATE TABLE last_locations (
    user_id uuid PRIMARY KEY REFERENCES users(id),
    device_id uuid NOT NULL,
    area_code text,
    since timestamptz NOT NULL,
    reported_at timestamptz NOT NULL
);
CREATE INDEX last_locations_area ON last_locations(area_code, reported_at);
CREATE INDEX last_locations_reported ON last_locations(reported_at);

CREATE TABLE tracking_authorisations (
    id uuid PRIMARY KEY,
    area_code text NOT NULL REFERENCES areas(code),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    reason text NOT NULL,
    authorised_by uuid NOT NULL REFERENCES users(id),
    created_at timestamptz NOT NULL,
    ended_at timestamptz,
    ended_by uuid REFERENCES users(id),
    end_reason text,
    CHECK (ends_at > starts_at)
);
CREATE INDEX tracking_area ON tracking_authorisations(area_code, ends_at);

-- Precise positions: only under a tracking authorisation in force. Written
-- by one multi-row INSERT per location batch, so the key is an identity
-- (no uuid travels from the client per row).
CREATE TABLE positions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL,
    device_id uuid NOT NULL,
    tracking_id uuid NOT NULL REFERENCES tracking_authorisations(id),
    area_code text NOT NULL,
    lat double precision NOT NULL,
    lon double precision NOT NULL,
    accuracy_m double precision,
    recorded_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL
);
-- The purge walks this one in time order.
CREATE INDEX positions_recorded ON positions(recorded_at);
CREATE INDEX positions_user ON positions(user_id, recorded_at);
CREATE INDEX positions_area ON positions(area_code, recorded_at);

CREATE TABLE location_freezes (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id),
    from_at timestamptz NOT NULL,
    to_at timestamptz NOT NULL,
    case_reference text NOT NULL,
    reason text NOT NULL,
    created_by uuid NOT NULL REFERENCES users(id),
    created_at timestamptz NOT NULL,
    lifted_at timestamptz,
    lifted_by uuid REFERENCES users(id),
    lift_reason text,
    CHECK (to_at > from_at)
);
CREATE INDEX location_freezes_user ON location_freezes(user_id) WHERE lifted_at IS NULL;

CREATE TABLE location_undertakings (
    user_id uuid PRIMARY KEY REFERENCES users(id),
    version text NOT NULL,
    accepted_at timestamptz NOT NULL
);

CREATE TABLE geo_alerts (
    id uuid PRIMARY KEY,
    area_code text NOT NULL REFERENCES areas(code),
    headline text NOT NULL,
    description text NOT NULL,
    instruction text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('extreme', 'severe', 'moderate', 'minor')),
    issued_by uuid NOT NULL REFERENCES users(id),
    issued_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    recipients bigint NOT NULL
);
CREATE INDEX geo_alerts_area ON geo_alerts(area_code, issued_at);

CREATE TABLE wellbeing_reports (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id),
    status text NOT NULL CHECK (status IN ('safe', 'need_help')),
    dependants jsonb NOT NULL DEFAULT '[]'::jsonb,
    note text NOT NULL DEFAULT '',
    channel text NOT NULL,
    area_code text,
    at timestamptz NOT NULL
);
CREATE INDEX wellbeing_user ON wellbeing_reports(user_id, at);
