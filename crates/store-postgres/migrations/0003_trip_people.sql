-- TRIP: travellers' profiles, travel authorisations from ERP systems, the
-- approved-airline list, the traveller's answer to a return, notifications.

-- A traveller's profile; one per user. Imported people get a user without a
-- password (they cannot log in until an administrator sets one).
CREATE TABLE profiles (
    user_id uuid PRIMARY KEY REFERENCES users(id),
    agency_id uuid NOT NULL REFERENCES agencies(id),
    personnel_id text NOT NULL,
    category text NOT NULL CHECK (category IN ('international_staff', 'national_staff', 'consultant', 'contractor', 'dependant', 'other')),
    nationality text,
    phone text NOT NULL DEFAULT '',
    duty_station text REFERENCES areas(code),
    emergency_contacts jsonb NOT NULL DEFAULT '[]'::jsonb,
    certificates jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- Digest of the imported content: a re-run skips unchanged rows.
    digest text NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (agency_id, personnel_id)
);

-- Travel authorisations: the request an agency's TA number maps to.
ALTER TABLE travel_requests ADD COLUMN agency_id uuid REFERENCES agencies(id);
ALTER TABLE travel_requests ADD COLUMN ta_digest text;
CREATE UNIQUE INDEX travel_requests_ta ON travel_requests(agency_id, ta_number)
    WHERE agency_id IS NOT NULL AND ta_number IS NOT NULL;

ALTER TABLE legs ADD COLUMN carrier text;
ALTER TABLE legs ADD COLUMN answer text NOT NULL DEFAULT '';
ALTER TABLE legs ADD COLUMN answered_at timestamptz;
-- When a mode change last re-evaluated the leg (to tell its traveller).
ALTER TABLE legs ADD COLUMN reevaluated_at timestamptz;
-- No index of its own on legs(request_id): the primary key (request_id, seq)
-- serves lookups by request, and another index would only make every write
-- of a leg dearer (a mode change rewrites every future leg of an area).

-- The approved-airline list, published monthly by the security department.
CREATE TABLE airline_lists (
    month date PRIMARY KEY,
    published_by uuid NOT NULL REFERENCES users(id),
    published_at timestamptz NOT NULL,
    note text NOT NULL DEFAULT ''
);
CREATE TABLE airline_list_entries (
    month date NOT NULL REFERENCES airline_lists(month),
    code text NOT NULL,
    name text NOT NULL,
    PRIMARY KEY (month, code)
);

-- In-app notifications; email_state makes the table the e-mail outbox too.
CREATE TABLE notifications (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id),
    kind text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    link text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    read_at timestamptz,
    email_state text NOT NULL DEFAULT 'pending' CHECK (email_state IN ('pending', 'sending', 'sent', 'failed', 'none')),
    email_attempts integer NOT NULL DEFAULT 0,
    email_after timestamptz,
    email_error text
);
CREATE INDEX notifications_user ON notifications(user_id, created_at);
CREATE INDEX notifications_outbox ON notifications(email_state, email_after)
    WHERE email_state IN ('pending', 'sending');
