#include "sqlite.hpp"

namespace ferry::applier {

Database::Database(const std::filesystem::path& path, bool create, ErrorKind kind) : m_name(path.string()) {
    sqlite3* raw = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOFOLLOW;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    m_db.reset(raw);
    if (rc != SQLITE_OK) {
        throw Error(kind, m_name + ": cannot open database: " +
                              (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, 5000);
}

void Database::fail(int rc, const std::string& context) const {
    const std::string message = m_db ? sqlite3_errmsg(m_db.get()) : sqlite3_errstr(rc);
    const int primary = rc & 0xff;
    const ErrorKind kind = (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) ? ErrorKind::input : ErrorKind::io;
    throw Error(kind, m_name + ": " + context + ": " + message);
}

void Database::exec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(m_db.get(), sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        const std::string message = err != nullptr ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        const int primary = rc & 0xff;
        throw Error((primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) ? ErrorKind::input : ErrorKind::io,
                    m_name + ": " + message);
    }
}

Statement Database::prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v2(m_db.get(), sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
        fail(rc, "preparing \"" + sql.substr(0, 60) + "\"");
    }
    return Statement(*this, stmt);
}

std::optional<std::string> Database::query_text(const std::string& sql) {
    Statement s = prepare(sql);
    if (!s.step() || s.is_null(0)) {
        return std::nullopt;
    }
    return s.text(0);
}

std::string Database::integrity_check() {
    Statement s = prepare("PRAGMA integrity_check");
    std::string out;
    while (s.step()) {
        out += (out.empty() ? "" : "; ") + s.text(0);
    }
    return out;
}

Statement& Statement::bind(int index, std::string_view text) {
    const int rc = sqlite3_bind_text(m_stmt.get(), index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) {
        m_db->fail(rc, "binding a value");
    }
    return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(m_stmt.get(), index, value);
    if (rc != SQLITE_OK) {
        m_db->fail(rc, "binding a value");
    }
    return *this;
}

Statement& Statement::bind_null(int index) {
    const int rc = sqlite3_bind_null(m_stmt.get(), index);
    if (rc != SQLITE_OK) {
        m_db->fail(rc, "binding a value");
    }
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(m_stmt.get());
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    m_db->fail(rc, "running \"" + std::string(sqlite3_sql(m_stmt.get())).substr(0, 60) + "\"");
}

void Statement::run() {
    while (step()) {
    }
}

std::string Statement::text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt.get(), column));
    return p != nullptr ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(m_stmt.get(), column))) : "";
}

std::int64_t Statement::integer(int column) const { return sqlite3_column_int64(m_stmt.get(), column); }

bool Statement::is_null(int column) const { return sqlite3_column_type(m_stmt.get(), column) == SQLITE_NULL; }

Transaction::Transaction(Database& db) : m_db(db) { m_db.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
    if (!m_done) {
        sqlite3_exec(m_db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void Transaction::commit() {
    m_db.exec("COMMIT");
    m_done = true;
}

} // namespace ferry::applier
