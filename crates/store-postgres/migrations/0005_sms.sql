-- Bulk SMS for people without a smartphone (eTA, 2019 report ¶83): an outbox
-- written in the transaction of what it announces, sent over SMPP by the
-- service; the SMSC's message ids, to match delivery receipts.
CREATE TABLE sms_outbox (
    id uuid PRIMARY KEY,
    user_id uuid REFERENCES users(id),
    phone text NOT NULL,
    body text NOT NULL,
    kind text NOT NULL,
    ref text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    send_after timestamptz,
    error text,
    sent_at timestamptz
);
CREATE INDEX sms_outbox_due ON sms_outbox(state, send_after) WHERE state IN ('pending', 'sending');
CREATE INDEX sms_outbox_ref ON sms_outbox(ref);

CREATE TABLE sms_parts (
    message_id text PRIMARY KEY,
    sms_id uuid NOT NULL REFERENCES sms_outbox(id)
);

-- Receipts as they come (one may arrive before the sending is recorded);
-- a message's receipt is read through its parts.
CREATE TABLE sms_receipts (
    message_id text PRIMARY KEY,
    state text NOT NULL,
    at timestamptz NOT NULL
);

ALTER TABLE geo_alerts ADD COLUMN sms_recipients bigint NOT NULL DEFAULT 0;
CREATE INDEX profiles_phone ON profiles(phone) WHERE phone <> '';
CREATE INDEX profiles_duty_station ON profiles(duty_station);
