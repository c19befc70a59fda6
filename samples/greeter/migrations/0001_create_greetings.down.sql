-- Reverts 0001: drops the table and every greeting in it, and sets the schema version to 0.
DROP TABLE greetings;
PRAGMA user_version = 0;
