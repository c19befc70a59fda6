-- 0001: the table of greetings, with two rows to start from.
CREATE TABLE greetings (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

INSERT INTO greetings (text) VALUES ('Hello, world!');
INSERT INTO greetings (text) VALUES ('Good morning!');

-- The schema version greeter checks before it starts (greeter 1.x needs at least 1).
PRAGMA user_version = 1;
