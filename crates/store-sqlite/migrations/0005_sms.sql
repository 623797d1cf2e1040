-- Bulk SMS for people without a smartphone (eTA, 2019 report ¶83): an outbox
-- written in the transaction of what it announces, sent over SMPP by the
-- service; the SMSC's message ids, to match delivery receipts.
CREATE TABLE sms_outbox (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users(id),
    phone TEXT NOT NULL,
    body TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    send_after TEXT,
    error TEXT,
    sent_at TEXT
);
CREATE INDEX sms_outbox_due ON sms_outbox(state, send_after) WHERE state IN ('pending', 'sending');

CREATE TABLE sms_parts (
    message_id TEXT PRIMARY KEY,
    sms_id TEXT NOT NULL REFERENCES sms_outbox(id)
);

-- Receipts as they come (one may arrive before the sending is recorded);
-- a message's receipt is read through its parts.
CREATE TABLE sms_receipts (
    message_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    at TEXT NOT NULL
);

ALTER TABLE geo_alerts ADD COLUMN sms_recipients INTEGER NOT NULL DEFAULT 0;
CREATE INDEX profiles_phone ON profiles(phone) WHERE phone <> '';
CREATE INDEX profiles_duty_station ON profiles(duty_station);
CREATE INDEX sms_outbox_ref ON sms_outbox(ref);
