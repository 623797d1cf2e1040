-- Warden foundation schema (SQLite). Timestamps are UTC text, fixed width:
-- YYYY-MM-DDTHH:MM:SS.ffffffZ, so that text order is time order.
CREATE TABLE countries (
    alpha2 TEXT PRIMARY KEY,
    alpha3 TEXT NOT NULL,
    name TEXT NOT NULL,
    names TEXT NOT NULL DEFAULT '{}',
    region TEXT
);

CREATE TABLE areas (
    code TEXT PRIMARY KEY,
    iso_3166_2 TEXT,
    country TEXT NOT NULL REFERENCES countries(alpha2),
    name TEXT NOT NULL,
    names TEXT NOT NULL DEFAULT '{}',
    kind TEXT NOT NULL CHECK (kind IN ('admin1', 'custom')),
    subtype TEXT,
    label_lon REAL NOT NULL,
    label_lat REAL NOT NULL,
    members TEXT NOT NULL DEFAULT '[]',
    geometry TEXT NOT NULL,
    level INTEGER CHECK (level BETWEEN 1 AND 6),
    level_since TEXT,
    level_assessment TEXT
);
CREATE INDEX areas_country ON areas(country, code);

CREATE TABLE agencies (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT NOT NULL,
    agency_id TEXT REFERENCES agencies(id),
    password_hash TEXT NOT NULL,
    totp_secret TEXT,
    totp_enabled INTEGER NOT NULL DEFAULT 0,
    totp_last_step INTEGER,
    disabled INTEGER NOT NULL DEFAULT 0,
    locale TEXT NOT NULL DEFAULT 'en',
    created_at TEXT NOT NULL
);

CREATE TABLE role_grants (
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    scope TEXT NOT NULL,
    agency_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, role, scope, agency_id)
);
CREATE INDEX role_grants_role ON role_grants(role, scope);

CREATE TABLE sessions (
    digest TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    two_factor INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ip TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE measures (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    country TEXT
);

CREATE TABLE assessments (
    id TEXT PRIMARY KEY,
    area_code TEXT NOT NULL REFERENCES areas(code),
    author_id TEXT NOT NULL REFERENCES users(id),
    proposed_level INTEGER NOT NULL CHECK (proposed_level BETWEEN 1 AND 6),
    previous_level INTEGER,
    ratings TEXT NOT NULL,
    narrative TEXT NOT NULL,
    advisory_text TEXT NOT NULL,
    measures TEXT NOT NULL,
    mitigation_text TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX assessments_area ON assessments(area_code, created_at);
CREATE INDEX assessments_status ON assessments(status, created_at);

CREATE TABLE assessment_events (
    assessment_id TEXT NOT NULL REFERENCES assessments(id),
    seq INTEGER NOT NULL,
    action TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT NOT NULL,
    smt_consulted TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (assessment_id, seq)
);

CREATE TABLE level_changes (
    id TEXT PRIMARY KEY,
    area_code TEXT NOT NULL REFERENCES areas(code),
    old_level INTEGER,
    new_level INTEGER NOT NULL,
    assessment_id TEXT NOT NULL REFERENCES assessments(id),
    approved_by TEXT NOT NULL REFERENCES users(id),
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX level_changes_area ON level_changes(area_code, at);

CREATE TABLE advisories (
    country TEXT PRIMARY KEY REFERENCES countries(alpha2),
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE advisory_areas (
    area_code TEXT PRIMARY KEY REFERENCES areas(code),
    text TEXT NOT NULL,
    mitigation_text TEXT NOT NULL,
    measures TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE advisory_changes (
    id TEXT PRIMARY KEY,
    country TEXT NOT NULL,
    area_code TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    old_level INTEGER,
    new_level INTEGER,
    summary TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX advisory_changes_country ON advisory_changes(country, at);
CREATE INDEX advisory_changes_at ON advisory_changes(at);

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    ip TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_target ON audit_log(target);
CREATE INDEX audit_log_action ON audit_log(action);

-- The log is append-only: the database itself refuses edits and deletions.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
