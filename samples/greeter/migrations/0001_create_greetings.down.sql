-- Reverts 0001: drops the table and every greeting in it.
DROP TABLE greetings;
