-- Partner systems (issue 5 item 4; 2019 report ¶84, footnote 14): other
-- agencies' systems that pass their agency headcounts in and receive
-- advisories and roll-call alerts as CAP 1.2 (a pull feed and a push outbox).
CREATE TABLE partners (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    push_url TEXT,
    token_digest TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- One partner figure per (partner, area, as_of): re-sending changes nothing.
CREATE TABLE partner_headcounts (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners(id),
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    area_code TEXT NOT NULL REFERENCES areas(code),
    as_of TEXT NOT NULL,
    received_at TEXT NOT NULL,
    total INTEGER NOT NULL CHECK (total >= 0),
    counts TEXT NOT NULL,
    accounted INTEGER,
    needs_help INTEGER,
    no_answer INTEGER,
    reference TEXT,
    fingerprint TEXT NOT NULL,
    UNIQUE (partner_id, area_code, as_of)
);
CREATE INDEX partner_headcounts_area ON partner_headcounts(area_code, agency_id, as_of);

-- CAP messages for partners, written in the transaction of what they
-- announce (an advisory change, a roll call started).
CREATE TABLE cap_messages (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('advisory', 'rollcall')),
    country TEXT,
    version INTEGER,
    roll_call_id TEXT REFERENCES roll_calls(id),
    headline TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX cap_messages_created ON cap_messages(created_at);

-- The push outbox: one row per message and partner with a push URL.
CREATE TABLE partner_deliveries (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES cap_messages(id),
    partner_id TEXT NOT NULL REFERENCES partners(id),
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    send_after TEXT,
    http_status INTEGER,
    error TEXT,
    sent_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (message_id, partner_id)
);
CREATE INDEX partner_deliveries_due ON partner_deliveries(state, send_after) WHERE state IN ('pending', 'sending');
