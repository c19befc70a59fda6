#include "database.hpp"

#include "build.hpp"
#include "error.hpp"
#include "http.hpp"

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

Database::Database(std::string file) : m_file(std::move(file)) {
    struct stat info {};
    if (stat(m_file.c_str(), &info) != 0) {
        throw Error(ErrorKind::database, m_file + ": no such database", migrations_hint());
    }
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(m_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
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
