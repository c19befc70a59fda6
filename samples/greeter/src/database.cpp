#include "database.hpp"

#include "build.hpp"
#include "error.hpp"
#include "http.hpp"

#include <string>
#include <sys/stat.h>
#include <utility>

namespace greeter {
namespace {

constexpr const char* k_greetings_query =
    k_has_language ? "SELECT id, text, language, created_at FROM greetings ORDER BY id"
                   : "SELECT id, text, created_at FROM greetings ORDER BY id";

[[nodiscard]] std::string column_text(sqlite3_stmt* statement, int column) {
    const auto* text = sqlite3_column_text(statement, column);
    return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
}

[[nodiscard]] std::string migrations_hint() {
    return "apply the migrations up to " + std::string(k_required_migration) +
           " (greeter never creates or migrates its database itself)";
}

} // namespace

Database::Database(std::string file, bool writable) : m_file(std::move(file)) {
    struct stat info {};
    if (stat(m_file.c_str(), &info) != 0) {
        throw Error(ErrorKind::database, m_file + ": no such database", migrations_hint());
    }
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(
        m_file.c_str(), &db, writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, nullptr);
    m_db.reset(db);
    if (rc != SQLITE_OK) {
        throw Error(ErrorKind::database,
                    m_file +
                        ": cannot open: " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
    }
    sqlite3_busy_timeout(m_db.get(), 1000);
    const int version = schema_version();
    if (version < k_required_schema) {
        throw Error(ErrorKind::database,
                    m_file + ": schema version " + std::to_string(version) + ", greeter " +
                        std::string(k_version) + " needs " + std::to_string(k_required_schema),
                    migrations_hint());
    }
    // The schema version is the migrations' word; preparing the query checks the tables agree.
    try {
        static_cast<void>(prepare(k_greetings_query));
    } catch (const Error& e) {
        throw Error(ErrorKind::database,
                    std::string(e.what()) + " (schema version " + std::to_string(version) + ")",
                    "the tables do not match the schema version; restore the database from a "
                    "backup");
    }
}

int Database::schema_version() const {
    const auto statement = prepare("PRAGMA user_version");
    if (sqlite3_step(statement.get()) != SQLITE_ROW) {
        throw Error(ErrorKind::database,
                    m_file + ": cannot read the schema version: " + sqlite3_errmsg(m_db.get()));
    }
    return sqlite3_column_int(statement.get(), 0);
}

std::string Database::greetings_json() const {
    const auto statement = prepare(k_greetings_query);
    std::string json = "[";
    int rc = SQLITE_OK;
    while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
        if (json.size() > 1) {
            json += ',';
        }
        int column = 0;
        json += "{\"id\":" + std::to_string(sqlite3_column_int64(statement.get(), column++));
        json += ",\"text\":" + json_string(column_text(statement.get(), column++));
        if constexpr (k_has_language) {
            json += ",\"language\":" + json_string(column_text(statement.get(), column++));
        }
        json += ",\"created_at\":" + json_string(column_text(statement.get(), column++)) + '}';
    }
    if (rc != SQLITE_DONE) {
        throw Error(ErrorKind::database,
                    m_file + ": cannot read greetings: " + sqlite3_errmsg(m_db.get()));
    }
    return json + ']';
}

long long Database::last_id() const {
    const auto statement = prepare("SELECT COALESCE(MAX(id), 0) FROM greetings");
    if (sqlite3_step(statement.get()) != SQLITE_ROW) {
        throw failure("cannot read the last id");
    }
    return sqlite3_column_int64(statement.get(), 0);
}

long long Database::insert(const std::string& text, const std::string& language) {
    const auto statement =
        prepare(k_has_language ? "INSERT INTO greetings (text, language) VALUES (?1, ?2)"
                               : "INSERT INTO greetings (text) VALUES (?1)");
    sqlite3_bind_text(statement.get(), 1, text.c_str(), -1, SQLITE_TRANSIENT);
    if constexpr (k_has_language) {
        sqlite3_bind_text(statement.get(), 2, language.c_str(), -1, SQLITE_TRANSIENT);
    }
    if (sqlite3_step(statement.get()) != SQLITE_DONE) {
        throw failure("cannot add a greeting");
    }
    return sqlite3_last_insert_rowid(m_db.get());
}

std::vector<Row> Database::rows_after(long long after, int limit) const {
    const auto statement = prepare(
        k_has_language
            ? "SELECT id, created_at, language, text FROM greetings WHERE id > ?1 ORDER BY id "
              "LIMIT ?2"
            : "SELECT id, created_at, 'en', text FROM greetings WHERE id > ?1 ORDER BY id LIMIT "
              "?2");
    sqlite3_bind_int64(statement.get(), 1, after);
    sqlite3_bind_int(statement.get(), 2, limit);
    std::vector<Row> rows;
    int rc = SQLITE_OK;
    while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
        rows.push_back({sqlite3_column_int64(statement.get(), 0), column_text(statement.get(), 1),
                        column_text(statement.get(), 2), column_text(statement.get(), 3)});
    }
    if (rc != SQLITE_DONE) {
        throw failure("cannot read greetings");
    }
    return rows;
}

void Database::copy_rows(long long after, long long upto, const std::vector<Row>& rows,
                         bool complete) {
    execute("BEGIN IMMEDIATE");
    try {
        const auto remove = prepare(complete ? "DELETE FROM greetings WHERE id > ?1"
                                             : "DELETE FROM greetings WHERE id > ?1 AND id <= ?2");
        sqlite3_bind_int64(remove.get(), 1, after);
        if (!complete) {
            sqlite3_bind_int64(remove.get(), 2, upto);
        }
        if (sqlite3_step(remove.get()) != SQLITE_DONE) {
            throw failure("cannot copy greetings");
        }
        const auto add = prepare(
            k_has_language
                ? "INSERT INTO greetings (id, created_at, text, language) VALUES (?1, ?2, ?3, ?4)"
                : "INSERT INTO greetings (id, created_at, text) VALUES (?1, ?2, ?3)");
        for (const Row& row : rows) {
            sqlite3_reset(add.get());
            sqlite3_bind_int64(add.get(), 1, row.id);
            sqlite3_bind_text(add.get(), 2, row.created_at.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(add.get(), 3, row.text.c_str(), -1, SQLITE_TRANSIENT);
            if constexpr (k_has_language) {
                const std::string& language = row.language.empty() ? "en" : row.language;
                sqlite3_bind_text(add.get(), 4, language.c_str(), -1, SQLITE_TRANSIENT);
            }
            if (sqlite3_step(add.get()) != SQLITE_DONE) {
                throw failure("cannot copy greeting " + std::to_string(row.id));
            }
        }
        execute("COMMIT");
    } catch (...) {
        sqlite3_exec(m_db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void Database::execute(const char* sql) {
    if (sqlite3_exec(m_db.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
        throw failure(sql);
    }
}

Error Database::failure(const std::string& what) const {
    return {ErrorKind::database, m_file + ": " + what + ": " + sqlite3_errmsg(m_db.get())};
}

SqliteStmtPtr Database::prepare(const char* sql) const {
    sqlite3_stmt* statement = nullptr;
    const int rc = sqlite3_prepare_v2(m_db.get(), sql, -1, &statement, nullptr);
    SqliteStmtPtr owned(statement);
    if (rc != SQLITE_OK) {
        throw Error(ErrorKind::database, m_file + ": " + sqlite3_errmsg(m_db.get()));
    }
    return owned;
}

} // namespace greeter
