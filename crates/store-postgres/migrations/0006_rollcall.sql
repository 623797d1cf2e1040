-- Roll calls (issue 5, "who is where" item 3): an accountability event over
-- areas, the people asked "are you safe?"; answers are wellbeing_reports
-- given while it was open. A closed roll call keeps its record.
CREATE TABLE roll_calls (
    id uuid PRIMARY KEY,
    message text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    started_by uuid NOT NULL REFERENCES users(id),
    started_at timestamptz NOT NULL,
    closed_by uuid REFERENCES users(id),
    closed_at timestamptz,
    people bigint NOT NULL DEFAULT 0,
    sms_recipients bigint NOT NULL DEFAULT 0
);
CREATE INDEX roll_calls_started ON roll_calls(started_at);

CREATE TABLE roll_call_areas (
    roll_call_id uuid NOT NULL REFERENCES roll_calls(id),
    seq bigint NOT NULL,
    area_code text NOT NULL REFERENCES areas(code),
    PRIMARY KEY (roll_call_id, seq)
);
CREATE INDEX roll_call_areas_area ON roll_call_areas(area_code);

CREATE TABLE roll_call_people (
    roll_call_id uuid NOT NULL REFERENCES roll_calls(id),
    user_id uuid NOT NULL REFERENCES users(id),
    PRIMARY KEY (roll_call_id, user_id)
);
