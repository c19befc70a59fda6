#include "migrations.hpp"

#include "core/time.hpp"

namespace ferry::applier {

namespace {

const char* const k_ledger_sql =
    "CREATE TABLE IF NOT EXISTS ferry_migrations("
    "id TEXT PRIMARY KEY, checksum TEXT NOT NULL, version TEXT NOT NULL, applied_at TEXT NOT NULL)";

void copy_database(sqlite3* from, sqlite3* to, const std::string& what) {
    sqlite3_backup* backup = sqlite3_backup_init(to, "main", from, "main");
    if (backup == nullptr) {
        throw Error(ErrorKind::io, what + ": " + sqlite3_errmsg(to));
    }
    int rc = SQLITE_OK;
    do {
        rc = sqlite3_backup_step(backup, 256);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            sqlite3_sleep(50);
        }
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
        throw Error(ErrorKind::io, what + ": " + sqlite3_errstr(rc));
    }
}

} // namespace

std::map<std::string, std::string> migration_ledger(Database& db) {
    std::map<std::string, std::string> out;
    if (!db.query_text("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'ferry_migrations'")) {
        return out;
    }
    Statement s = db.prepare("SELECT id, checksum FROM ferry_migrations");
    while (s.step()) {
        out[s.text(0)] = s.text(1);
    }
    return out;
}

void apply_sql_migration(Database& db, const std::string& id, const std::string& checksum,
                         const std::string& sql, const std::string& version) {
    try {
        Transaction tx(db);
        db.exec(k_ledger_sql);
        db.exec(sql);
        db.prepare("INSERT INTO ferry_migrations(id, checksum, version, applied_at) VALUES(?, ?, ?, ?)")
            .bind(1, id)
            .bind(2, checksum)
            .bind(3, version)
            .bind(4, format_time(now()))
            .run();
        if (const auto problem = db.query_text("PRAGMA foreign_key_check")) {
            throw Error(ErrorKind::failed, "foreign key check failed in table " + *problem);
        }
        tx.commit();
    } catch (const Error& e) {
        throw Error(ErrorKind::failed, "migration " + id + " failed: " + e.what());
    }
}

void revert_sql_migration(Database& db, const std::string& id, const std::string& sql) {
    try {
        Transaction tx(db);
        db.exec(sql);
        db.prepare("DELETE FROM ferry_migrations WHERE id = ?").bind(1, id).run();
        tx.commit();
    } catch (const Error& e) {
        throw Error(ErrorKind::failed, "down migration " + id + " failed: " + e.what());
    }
}

void backup_database(const std::filesystem::path& source, const std::filesystem::path& target) {
    std::filesystem::create_directories(target.parent_path());
    std::filesystem::remove(target);
    Database from(source, false);
    Database to(target, true);
    copy_database(from.get(), to.get(), "backing up " + source.string());
    const std::string check = to.integrity_check();
    if (check != "ok") {
        throw Error(ErrorKind::io, "backup of " + source.string() + " fails integrity_check: " + check);
    }
}

void restore_database(const std::filesystem::path& source, const std::filesystem::path& target) {
    Database from(source, false);
    Database to(target, true);
    copy_database(from.get(), to.get(), "restoring " + target.string());
    const std::string check = to.integrity_check();
    if (check != "ok") {
        throw Error(ErrorKind::failed, "restored " + target.string() + " fails integrity_check: " + check);
    }
}

} // namespace ferry::applier
