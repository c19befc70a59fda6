#pragma once

// greeter's read-only view of its SQLite database, which only the migrations create and change.

#include <memory>
#include <string>

#include <sqlite3.h>

namespace greeter {

struct SqliteDeleter {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct SqliteStmtDeleter {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteDeleter>;
using SqliteStmtPtr = std::unique_ptr<sqlite3_stmt, SqliteStmtDeleter>;

// The greetings database, opened read-only: greeter never creates or migrates it.
class Database {
public:
    // Opens FILE; throws Error(database) if it is missing, unreadable or its schema older than
    // k_required_schema.
    explicit Database(std::string file);

    // The schema version the migrations recorded (PRAGMA user_version).
    [[nodiscard]] int schema_version() const;

    // Every greeting as a JSON array of objects, by id.
    [[nodiscard]] std::string greetings_json() const;

private:
    [[nodiscard]] SqliteStmtPtr prepare(const char* sql) const;

    std::string m_file;
    SqlitePtr m_db;
};

} // namespace greeter
