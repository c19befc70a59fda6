#pragma once

// A thin, checked layer over SQLite: every failure is a ferry::Error naming the database.

#include "core/error.hpp"
#include "core/handles.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <sqlite3.h>

namespace ferry::applier {

struct SqliteDeleter {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct SqliteStmtDeleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteDeleter>;
using SqliteStmtPtr = std::unique_ptr<sqlite3_stmt, SqliteStmtDeleter>;

class Statement;

// An open SQLite database.
class Database {
public:
    // Opens PATH (creating it when CREATE); KIND is the error kind of failures to open.
    Database(const std::filesystem::path& path, bool create, ErrorKind kind = ErrorKind::io);

    // Runs SQL that returns no rows (several statements allowed).
    void exec(const std::string& sql);
    [[nodiscard]] Statement prepare(const std::string& sql);
    // The first column of the first row of SQL, or nullopt when there is no row.
    [[nodiscard]] std::optional<std::string> query_text(const std::string& sql);
    // PRAGMA integrity_check: "ok" or the problems found.
    [[nodiscard]] std::string integrity_check();
    [[nodiscard]] sqlite3* get() const { return m_db.get(); }
    [[nodiscard]] const std::string& name() const { return m_name; }
    // Throws an Error for return code RC with CONTEXT.
    [[noreturn]] void fail(int rc, const std::string& context) const;

private:
    SqlitePtr m_db;
    std::string m_name;
};

// A prepared statement; bind from 1, columns from 0.
class Statement {
public:
    Statement(Database& db, sqlite3_stmt* stmt) : m_db(&db), m_stmt(stmt) {}

    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, std::int64_t value);
    Statement& bind_null(int index);
    // Steps once; true while a row is available.
    bool step();
    // Runs to completion.
    void run();
    [[nodiscard]] std::string text(int column) const;
    [[nodiscard]] std::int64_t integer(int column) const;
    [[nodiscard]] bool is_null(int column) const;

private:
    Database* m_db;
    SqliteStmtPtr m_stmt;
};

// BEGIN IMMEDIATE now, ROLLBACK when destroyed unless commit() was called.
class Transaction {
public:
    explicit Transaction(Database& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Database& m_db;
    bool m_done = false;
};

} // namespace ferry::applier
