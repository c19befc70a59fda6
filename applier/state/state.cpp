#include "state.hpp"

#include "core/time.hpp"

#include <array>
#include <sys/stat.h>
#include <unistd.h>

namespace ferry::applier {

namespace {

// The state database's schema versions this applier reads: it upgrades any version from the
// oldest supported to the current one when it opens the database, and refuses any other.
constexpr int k_oldest_schema_version = 1;
constexpr int k_schema_version = 3;

// What each version adds to the one before it: version 2 keeps bundles staged for later,
// version 3 the keys that counted toward each run's bundle.
const char* const k_schema_upgrades[] = {
    nullptr,
    nullptr,
    R"sql(
CREATE TABLE IF NOT EXISTS staged(
    manifest_sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    source TEXT NOT NULL,
    head_sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    chunks_done INTEGER NOT NULL,
    state TEXT NOT NULL,
    updated TEXT NOT NULL);
)sql",
    R"sql(
CREATE TABLE IF NOT EXISTS run_keys(
    run_id INTEGER NOT NULL REFERENCES runs(id),
    key_id TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY(run_id, key_id));
)sql",
};

const char* const k_schema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
    id INTEGER PRIMARY KEY,
    action TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    from_version TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    bundle_path TEXT NOT NULL,
    manifest TEXT NOT NULL,
    from_manifest TEXT NOT NULL,
    state TEXT NOT NULL,
    started TEXT NOT NULL,
    ended TEXT,
    error TEXT);
CREATE TABLE IF NOT EXISTS journal(
    run_id INTEGER NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    step TEXT NOT NULL,
    phase TEXT NOT NULL,
    detail TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY(run_id, seq));
CREATE TABLE IF NOT EXISTS installed(
    name TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    run_id INTEGER NOT NULL,
    manifest TEXT NOT NULL,
    installed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS installed_files(
    dest TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    component TEXT NOT NULL,
    role TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS backup_items(
    run_id INTEGER NOT NULL REFERENCES runs(id),
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    existed INTEGER NOT NULL,
    copy TEXT NOT NULL,
    PRIMARY KEY(run_id, kind, path));
)sql";


template <typename Enum, std::size_t N>
Enum parse_name(const std::string& text, const std::array<std::pair<Enum, const char*>, N>& names, const char* what) {
    for (const auto& [value, name] : names) {
        if (text == name) {
            return value;
        }
    }
    throw Error(ErrorKind::input, std::string("the state database records an unknown ") + what + " \"" + text + "\"",
                "it was written by another ferry-applier; use that one, or restore the state folder from a backup");
}

template <typename Enum, std::size_t N>
std::string name_of(Enum value, const std::array<std::pair<Enum, const char*>, N>& names) {
    for (const auto& [v, name] : names) {
        if (v == value) {
            return name;
        }
    }
    return "?";
}

constexpr std::array<std::pair<RunState, const char*>, 5> k_run_states = {{{RunState::running, "running"},
                                                                           {RunState::rolling_back, "rolling_back"},
                                                                           {RunState::committed, "committed"},
                                                                           {RunState::rolled_back, "rolled_back"},
                                                                           {RunState::failed, "failed"}}};

constexpr std::array<std::pair<BackupKind, const char*>, 6> k_backup_kinds = {{{BackupKind::file, "file"},
                                                                               {BackupKind::path, "path"},
                                                                               {BackupKind::sqlite, "sqlite"},
                                                                               {BackupKind::ledger, "ledger"},
                                                                               {BackupKind::dir, "dir"},
                                                                               {BackupKind::image, "image"}}};

RunInfo read_run(const Statement& s) {
    RunInfo r;
    r.id = s.integer(0);
    r.action = s.text(1);
    r.name = s.text(2);
    r.version = s.text(3);
    r.from_version = s.text(4);
    r.sequence = s.integer(5);
    r.state = parse_name(s.text(6), k_run_states, "run state");
    r.started = s.text(7);
    r.ended = s.text(8);
    r.error = s.text(9);
    r.bundle_path = s.text(10);
    r.from_manifest = s.text(11);
    return r;
}

const char* const k_run_columns =
    "id, action, name, version, from_version, sequence, state, started, ended, error, bundle_path, from_manifest";

std::filesystem::path prepare_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        throw Error(ErrorKind::io, dir.string() + ": cannot create the state folder: " + ec.message());
    }
    ::chmod(dir.c_str(), 0700);
    return StateLayout(dir).database();
}

} // namespace

StateDb::StateDb(const std::filesystem::path& state_dir)
    : m_dir(std::filesystem::absolute(state_dir)), m_db(prepare_dir(m_dir), true, ErrorKind::input) {
    try {
        m_db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
        const std::string check = m_db.query_text("PRAGMA quick_check").value_or("?");
        if (check != "ok") {
            throw Error(ErrorKind::input, m_db.name() + ": " + check);
        }
        m_db.exec(k_schema);
        create_audit_table(m_db);
        const auto recorded = meta("schema_version");
        const int version = recorded ? std::atoi(recorded->c_str()) : k_schema_version;
        if (version < k_oldest_schema_version || version > k_schema_version) {
            throw Error(ErrorKind::input, m_db.name() + ": state schema version " + recorded.value_or("?") +
                                              " is not one this ferry-applier reads (" +
                                              std::to_string(k_oldest_schema_version) + " to " +
                                              std::to_string(k_schema_version) + ")" +
                                              (version > k_schema_version ? ": it was written by a newer one" : ""));
        }
        if (!recorded || version != k_schema_version) {
            Transaction tx(m_db);
            for (int v = recorded ? version + 1 : 1; v <= k_schema_version; ++v) {
                if (k_schema_upgrades[v] != nullptr) {
                    m_db.exec(k_schema_upgrades[v]);
                }
            }
            set_meta("schema_version", std::to_string(k_schema_version));
            tx.commit();
        }
    } catch (const Error& e) {
        throw Error(ErrorKind::input, std::string("the state database is damaged or unreadable: ") + e.what(),
                    "restore " + m_db.name() + " from a backup, or move it aside to start afresh "
                    "(the audit log in it is then lost)");
    }
}

std::optional<std::string> StateDb::meta(const std::string& key) {
    Statement s = m_db.prepare("SELECT value FROM meta WHERE key = ?");
    s.bind(1, key);
    if (!s.step()) {
        return std::nullopt;
    }
    return s.text(0);
}

void StateDb::set_meta(const std::string& key, const std::string& value) {
    m_db.prepare("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .bind(1, key)
        .bind(2, value)
        .run();
}

std::optional<InstalledInfo> StateDb::installed() {
    Statement s = m_db.prepare("SELECT name, version, sequence, run_id, manifest, installed_at FROM installed");
    if (!s.step()) {
        return std::nullopt;
    }
    return InstalledInfo{s.text(0), s.text(1), s.integer(2), s.integer(3), s.text(4), s.text(5)};
}

void StateDb::set_installed(const InstalledInfo& info, const std::map<std::string, InstalledFile>& files) {
    m_db.exec("DELETE FROM installed; DELETE FROM installed_files;");
    m_db.prepare("INSERT INTO installed VALUES(?, ?, ?, ?, ?, ?)")
        .bind(1, info.name)
        .bind(2, info.version)
        .bind(3, info.sequence)
        .bind(4, info.run_id)
        .bind(5, info.manifest)
        .bind(6, info.installed_at)
        .run();
    for (const auto& [dest, f] : files) {
        m_db.prepare("INSERT INTO installed_files VALUES(?, ?, ?, ?)")
            .bind(1, dest)
            .bind(2, f.sha256)
            .bind(3, f.component)
            .bind(4, f.role)
            .run();
    }
}

std::map<std::string, InstalledFile> StateDb::installed_files() {
    std::map<std::string, InstalledFile> out;
    Statement s = m_db.prepare("SELECT dest, sha256, component, role FROM installed_files");
    while (s.step()) {
        out[s.text(0)] = {s.text(1), s.text(2), s.text(3)};
    }
    return out;
}

std::int64_t StateDb::begin_run(const RunInfo& run, const std::string& manifest) {
    m_db.prepare("INSERT INTO runs(action, name, version, from_version, sequence, bundle_path, manifest, "
                 "from_manifest, state, started) VALUES(?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)")
        .bind(1, run.action)
        .bind(2, run.name)
        .bind(3, run.version)
        .bind(4, run.from_version)
        .bind(5, run.sequence)
        .bind(6, run.bundle_path)
        .bind(7, manifest)
        .bind(8, run.from_manifest)
        .bind(9, format_time(now()))
        .run();
    const std::int64_t id = sqlite3_last_insert_rowid(m_db.get());
    for (const auto& k : run.signing_keys) {
        m_db.prepare("INSERT OR IGNORE INTO run_keys(run_id, key_id, name) VALUES(?, ?, ?)")
            .bind(1, id)
            .bind(2, k.id)
            .bind(3, k.name)
            .run();
    }
    return id;
}

std::vector<SigningKey> StateDb::run_signing_keys(std::int64_t run) {
    std::vector<SigningKey> out;
    Statement s = m_db.prepare("SELECT key_id, name FROM run_keys WHERE run_id = ? ORDER BY key_id");
    s.bind(1, run);
    while (s.step()) {
        out.push_back({s.text(0), s.text(1)});
    }
    return out;
}

void StateDb::end_run(std::int64_t run, RunState state, const std::string& error) {
    m_db.prepare("UPDATE runs SET state = ?, ended = ?, error = ? WHERE id = ?")
        .bind(1, state_name(state))
        .bind(2, format_time(now()))
        .bind(3, error)
        .bind(4, run)
        .run();
}

std::optional<RunInfo> StateDb::interrupted_run() {
    Statement s = m_db.prepare(std::string("SELECT ") + k_run_columns +
                               " FROM runs WHERE state IN ('running', 'rolling_back') ORDER BY id DESC LIMIT 1");
    if (!s.step()) {
        return std::nullopt;
    }
    return read_run(s);
}

namespace {

const char* const k_staged_columns = "manifest_sha256, name, version, sequence, source, head_sha256, size, chunks, "
                                     "chunks_done, state, updated";

StagedBundle read_staged(const Statement& s) {
    return {s.text(0),    s.text(1),    s.text(2),    s.integer(3), s.text(4), s.text(5),
            s.integer(6), s.integer(7), s.integer(8), s.text(9),    s.text(10)};
}

} // namespace

void StateDb::put_staged(const StagedBundle& b) {
    m_db.prepare(std::string("INSERT OR REPLACE INTO staged(") + k_staged_columns +
                 ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, b.manifest_sha256).bind(2, b.name).bind(3, b.version).bind(4, b.sequence).bind(5, b.source)
        .bind(6, b.head_sha256).bind(7, b.size).bind(8, b.chunks).bind(9, b.chunks_done).bind(10, b.state)
        .bind(11, format_time(now()))
        .run();
}

void StateDb::set_staged_progress(const std::string& manifest_sha256, std::int64_t chunks_done,
                                  const std::string& state) {
    m_db.prepare("UPDATE staged SET chunks_done = ?, state = ?, updated = ? WHERE manifest_sha256 = ?")
        .bind(1, chunks_done).bind(2, state).bind(3, format_time(now())).bind(4, manifest_sha256)
        .run();
}

std::optional<StagedBundle> StateDb::staged(const std::string& manifest_sha256) {
    Statement s = m_db.prepare(std::string("SELECT ") + k_staged_columns + " FROM staged WHERE manifest_sha256 = ?");
    s.bind(1, manifest_sha256);
    if (!s.step()) {
        return std::nullopt;
    }
    return read_staged(s);
}

std::vector<StagedBundle> StateDb::staged_bundles() {
    std::vector<StagedBundle> out;
    Statement s = m_db.prepare(std::string("SELECT ") + k_staged_columns + " FROM staged ORDER BY updated");
    while (s.step()) {
        out.push_back(read_staged(s));
    }
    return out;
}

void StateDb::drop_staged(const std::string& manifest_sha256) {
    m_db.prepare("DELETE FROM staged WHERE manifest_sha256 = ?").bind(1, manifest_sha256).run();
}

std::optional<RunInfo> StateDb::failed_run() {
    Statement s = m_db.prepare(std::string("SELECT ") + k_run_columns + " FROM runs ORDER BY id DESC LIMIT 1");
    if (!s.step()) {
        return std::nullopt;
    }
    RunInfo last = read_run(s);
    if (last.state != RunState::failed || !std::filesystem::exists(layout().backup(last.id))) {
        return std::nullopt;
    }
    return last;
}

std::vector<RunInfo> StateDb::runs() {
    std::vector<RunInfo> out;
    Statement s = m_db.prepare(std::string("SELECT ") + k_run_columns + " FROM runs ORDER BY id");
    while (s.step()) {
        out.push_back(read_run(s));
    }
    return out;
}

std::string StateDb::run_manifest(std::int64_t run) {
    Statement s = m_db.prepare("SELECT manifest FROM runs WHERE id = ?");
    s.bind(1, run);
    return s.step() ? s.text(0) : std::string();
}

void StateDb::journal(std::int64_t run, const std::string& step, const std::string& phase,
                      const std::string& detail) {
    m_db.prepare("INSERT INTO journal(run_id, seq, step, phase, detail, at) VALUES(?, "
                 "(SELECT COALESCE(MAX(seq), 0) + 1 FROM journal WHERE run_id = ?), ?, ?, ?, ?)")
        .bind(1, run)
        .bind(2, run)
        .bind(3, step)
        .bind(4, phase)
        .bind(5, detail)
        .bind(6, format_time(now()))
        .run();
}

std::vector<JournalEntry> StateDb::journal_of(std::int64_t run) {
    std::vector<JournalEntry> out;
    Statement s = m_db.prepare("SELECT seq, step, phase, detail, at FROM journal WHERE run_id = ? ORDER BY seq");
    s.bind(1, run);
    while (s.step()) {
        out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4)});
    }
    return out;
}

void StateDb::add_backup_item(std::int64_t run, const BackupItem& item) {
    m_db.prepare("INSERT OR REPLACE INTO backup_items(run_id, kind, path, existed, copy) VALUES(?, ?, ?, ?, ?)")
        .bind(1, run)
        .bind(2, kind_name(item.kind))
        .bind(3, item.path)
        .bind(4, static_cast<std::int64_t>(item.existed))
        .bind(5, item.copy)
        .run();
}

void StateDb::clear_backup_items(std::int64_t run) {
    m_db.prepare("DELETE FROM backup_items WHERE run_id = ?").bind(1, run).run();
}

void StateDb::set_rolling_back(std::int64_t run) {
    m_db.prepare("UPDATE runs SET state = 'rolling_back' WHERE id = ?").bind(1, run).run();
}

std::string state_name(RunState state) { return name_of(state, k_run_states); }

std::string kind_name(BackupKind kind) { return name_of(kind, k_backup_kinds); }

std::vector<BackupItem> StateDb::backup_items(std::int64_t run) {
    std::vector<BackupItem> out;
    Statement s = m_db.prepare("SELECT kind, path, existed, copy FROM backup_items WHERE run_id = ? ORDER BY rowid");
    s.bind(1, run);
    while (s.step()) {
        out.push_back({parse_name(s.text(0), k_backup_kinds, "backup kind"), s.text(1), s.integer(2) != 0, s.text(3)});
    }
    return out;
}

void StateDb::audit(const std::string& action, JsonWriter& detail) {
    static const Operator who = current_operator();
    write_operator(detail, who);
    detail.end_object();
    append_audit(m_db, action, detail.str());
}

std::vector<AuditRecord> StateDb::audit_records() { return applier::audit_records(m_db); }

std::int64_t StateDb::audit_count() {
    Statement s = m_db.prepare("SELECT COUNT(*) FROM audit");
    return s.step() ? s.integer(0) : 0;
}

} // namespace ferry::applier
