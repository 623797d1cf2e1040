-- TRIP: travellers' profiles, travel authorisations from ERP systems, the
-- approved-airline list, the traveller's answer to a return, notifications.

-- A traveller's profile; one per user. Imported people get a user without a
-- password (they cannot log in until an administrator sets one).
CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    personnel_id TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('international_staff', 'national_staff', 'consultant', 'contractor', 'dependant', 'other')),
    nationality TEXT,
    phone TEXT NOT NULL DEFAULT '',
    duty_station TEXT REFERENCES areas(code),
    emergency_contacts TEXT NOT NULL DEFAULT '[]',
    certificates TEXT NOT NULL DEFAULT '[]',
    -- Digest of the imported content: a re-run skips unchanged rows.
    digest TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (agency_id, personnel_id)
);

-- Travel authorisations: the request an agency's TA number maps to.
ALTER TABLE travel_requests ADD COLUMN agency_id TEXT REFERENCES agencies(id);
ALTER TABLE travel_requests ADD COLUMN ta_digest TEXT;
CREATE UNIQUE INDEX travel_requests_ta ON travel_requests(agency_id, ta_number)
    WHERE agency_id IS NOT NULL AND ta_number IS NOT NULL;

ALTER TABLE legs ADD COLUMN carrier TEXT;
ALTER TABLE legs ADD COLUMN answer TEXT NOT NULL DEFAULT '';
ALTER TABLE legs ADD COLUMN answered_at TEXT;
-- When a mode change last re-evaluated the leg (to tell its traveller).
ALTER TABLE legs ADD COLUMN reevaluated_at TEXT;

-- The approved-airline list, published monthly by the security department.
CREATE TABLE airline_lists (
    month TEXT PRIMARY KEY,
    published_by TEXT NOT NULL REFERENCES users(id),
    published_at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE airline_list_entries (
    month TEXT NOT NULL REFERENCES airline_lists(month),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (month, code)
);

-- In-app notifications; email_state makes the table the e-mail outbox too.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    link TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    read_at TEXT,
    email_state TEXT NOT NULL DEFAULT 'pending' CHECK (email_state IN ('pending', 'sending', 'sent', 'failed', 'none')),
    email_attempts INTEGER NOT NULL DEFAULT 0,
    email_after TEXT,
    email_error TEXT
);
CREATE INDEX notifications_user ON notifications(user_id, created_at);
CREATE INDEX notifications_outbox ON notifications(email_state, email_after)
    WHERE email_state IN ('pending', 'sending');
