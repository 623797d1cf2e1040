-- Roll calls (issue 5, "who is where" item 3): an accountability event over
-- areas, the people asked "are you safe?"; answers are wellbeing_reports
-- given while it was open. A closed roll call keeps its record.
CREATE TABLE roll_calls (
    id TEXT PRIMARY KEY,
    message TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    started_by TEXT NOT NULL REFERENCES users(id),
    started_at TEXT NOT NULL,
    closed_by TEXT REFERENCES users(id),
    closed_at TEXT,
    people INTEGER NOT NULL DEFAULT 0,
    sms_recipients INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX roll_calls_started ON roll_calls(started_at);

CREATE TABLE roll_call_areas (
    roll_call_id TEXT NOT NULL REFERENCES roll_calls(id),
    seq INTEGER NOT NULL,
    area_code TEXT NOT NULL REFERENCES areas(code),
    PRIMARY KEY (roll_call_id, seq)
);
CREATE INDEX roll_call_areas_area ON roll_call_areas(area_code);

CREATE TABLE roll_call_people (
    roll_call_id TEXT NOT NULL REFERENCES roll_calls(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (roll_call_id, user_id)
);
