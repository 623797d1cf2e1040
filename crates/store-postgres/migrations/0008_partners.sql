-- Partner systems (issue 5 item 4; 2019 report ¶84, footnote 14): other
-- agencies' systems that pass their agency headcounts in and receive
-- advisories and roll-call alerts as CAP 1.2 (a pull feed and a push outbox).
CREATE TABLE partners (
    id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    agency_id uuid NOT NULL REFERENCES agencies(id),
    push_url text,
    token_digest text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- One partner figure per (partner, area, as_of): re-sending changes nothing.
CREATE TABLE partner_headcounts (
    id uuid PRIMARY KEY,
    partner_id uuid NOT NULL REFERENCES partners(id),
    agency_id uuid NOT NULL REFERENCES agencies(id),
    area_code text NOT NULL REFERENCES areas(code),
    as_of timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    total bigint NOT NULL CHECK (total >= 0),
    counts jsonb NOT NULL,
    accounted bigint,
    needs_help bigint,
    no_answer bigint,
    reference text,
    fingerprint text NOT NULL,
    UNIQUE (partner_id, area_code, as_of)
);
CREATE INDEX partner_headcounts_area ON partner_headcounts(area_code, agency_id, as_of);

-- CAP messages for partners, written in the transaction of what they
-- announce (an advisory change, a roll call started).
CREATE TABLE cap_messages (
    id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('advisory', 'rollcall')),
    country text,
    version bigint,
    roll_call_id uuid REFERENCES roll_calls(id),
    headline text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX cap_messages_created ON cap_messages(created_at);

-- The push outbox: one row per message and partner with a push URL.
CREATE TABLE partner_deliveries (
    id uuid PRIMARY KEY,
    message_id uuid NOT NULL REFERENCES cap_messages(id),
    partner_id uuid NOT NULL REFERENCES partners(id),
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts integer NOT NULL DEFAULT 0,
    send_after timestamptz,
    http_status integer,
    error text,
    sent_at timestamptz,
    created_at timestamptz NOT NULL,
    UNIQUE (message_id, partner_id)
);
CREATE INDEX partner_deliveries_due ON partner_deliveries(state, send_after) WHERE state IN ('pending', 'sending');
