#pragma once

// greeter's view of its SQLite database, whose schema only the migrations create and change:
// read-only for a lone instance; in cluster mode greeter also writes greetings rows (the leader
// adds them, followers copy the leader's).

#include "error.hpp"

#include <memory>
#include <string>
#include <vector>

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

// One greetings row, as the leader hands it to followers.
struct Row {
    long long id = 0;
    std::string created_at;
    std::string language; // "en" from 1.x, whose rows have none
    std::string text;
};

// The greetings database: greeter never creates or migrates it.
class Database {
public:
    // Opens FILE, read-only unless WRITABLE; throws Error(database) if it is missing, unreadable
    // or its schema older than k_required_schema.
    explicit Database(std::string file, bool writable = false);

    // The schema version the migrations recorded (PRAGMA user_version).
    [[nodiscard]] int schema_version() const;

    // Every greeting as a JSON array of objects, by id.
    [[nodiscard]] std::string greetings_json() const;

    // The highest id, 0 for none.
    [[nodiscard]] long long last_id() const;

    // Adds a greeting (LANGUAGE is dropped by 1.x); returns its id. Needs WRITABLE.
    [[nodiscard]] long long insert(const std::string& text, const std::string& language);

    // Up to LIMIT rows with ids above AFTER, by id.
    [[nodiscard]] std::vector<Row> rows_after(long long after, int limit) const;

    // Makes the rows with ids in (AFTER, UPTO] those of ROWS, and, when UPTO is the leader's
    // last id (COMPLETE), removes the rows above it: one transaction. Needs WRITABLE.
    void copy_rows(long long after, long long upto, const std::vector<Row>& rows, bool complete);

private:
    [[nodiscard]] SqliteStmtPtr prepare(const char* sql) const;
    void execute(const char* sql);
    [[nodiscard]] Error failure(const std::string& what) const;

    std::string m_file;
    SqlitePtr m_db;
};

} // namespace greeter
