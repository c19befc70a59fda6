-- 0002: each greeting has a language; existing greetings are English.
ALTER TABLE greetings ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
CREATE INDEX greetings_language ON greetings (language);

INSERT INTO greetings (text, language) VALUES ('Hallo, Welt!', 'de');
INSERT INTO greetings (text, language) VALUES ('Bonjour, le monde !', 'fr');

-- The schema version greeter checks before it starts (greeter 2.x needs at least 2).
PRAGMA user_version = 2;
