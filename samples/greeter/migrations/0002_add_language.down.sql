-- Reverts 0002: removes non-English greetings, the index and the column, and sets the schema
-- version back to 1 (ALTER TABLE ... DROP COLUMN needs SQLite 3.35 or later).
DELETE FROM greetings WHERE language <> 'en';
DROP INDEX greetings_language;
ALTER TABLE greetings DROP COLUMN language;
PRAGMA user_version = 1;
