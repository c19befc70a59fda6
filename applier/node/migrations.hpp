#pragma once

// SQL migrations of a SQLite database, each in one transaction with its ledger record.

#include "applier/state/sqlite.hpp"

#include <map>
#include <optional>
#include <string>

namespace ferry::applier {

// The ledger of DB: migration id → checksum (sha256 of its up file). Empty if DB is new.
[[nodiscard]] std::map<std::string, std::string> migration_ledger(Database& db);

// Applies SQL as migration ID in one transaction with its ledger record, then checks foreign
// keys; throws a failed Error naming the migration if anything fails (the database is then
// as before).
void apply_sql_migration(Database& db, const std::string& id, const std::string& checksum,
                         const std::string& sql, const std::string& version);

// Runs the down SQL of migration ID and removes its ledger record, in one transaction.
void revert_sql_migration(Database& db, const std::string& id, const std::string& sql);

// Copies the live database SOURCE to TARGET with SQLite's online backup API and checks the
// copy with integrity_check.
void backup_database(const std::filesystem::path& source, const std::filesystem::path& target);

// Replaces the content of the live database TARGET with the backup SOURCE.
void restore_database(const std::filesystem::path& source, const std::filesystem::path& target);

} // namespace ferry::applier
