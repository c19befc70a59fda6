#pragma once

// The applier's state database: what is installed, every run and its step journal, the
// migration ledger and the hash-chained audit log. SQLite in WAL mode with synchronous=FULL.

#include "applier/state/audit.hpp"
#include "applier/state/layout.hpp"
#include "applier/state/sqlite.hpp"
#include "core/json.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ferry::applier {

// Where a run is; stored by name.
enum class RunState { running, rolling_back, committed, rolled_back, failed };

// "running", "rolling_back", ...
[[nodiscard]] std::string state_name(RunState state);

// What was backed up before a run changed it; stored by name.
enum class BackupKind {
    file,   // an installed file the run replaced, removed or created
    path,   // a declared backup path, copied whole
    sqlite, // a database, through SQLite's online backup
    ledger, // the migrations a database had before the run
    dir,    // a folder the install created (nothing to copy)
    image,  // an image of the previous release, to load again
};

// "file", "path", ...
[[nodiscard]] std::string kind_name(BackupKind kind);

// A key that counted toward a bundle's signature threshold.
struct SigningKey {
    std::string id;   // 16 hex digits, as minisign prints it
    std::string name; // its name in the trust store
};

struct RunInfo {
    std::int64_t id = 0;
    std::string action; // apply, rollback
    std::string name;
    std::string version;
    std::string from_version;
    std::int64_t sequence = 0;
    RunState state = RunState::running;
    std::string started;
    std::string ended;
    std::string error;
    std::string bundle_path;
    std::string from_manifest; // the manifest installed before the run, empty if none
    std::vector<SigningKey> signing_keys; // the keys that counted when the run began
};

struct JournalEntry {
    std::int64_t seq = 0;
    std::string step;
    std::string phase; // begin, done
    std::string detail;
    std::string at;
};

struct InstalledInfo {
    std::string name;
    std::string version;
    std::int64_t sequence = 0;
    std::int64_t run_id = 0;
    std::string manifest; // the installed bundle's manifest text
    std::string installed_at;
};

struct InstalledFile {
    std::string sha256;
    std::string component;
    std::string role;
};

// Something backed up before a run changed it.
struct BackupItem {
    BackupKind kind = BackupKind::file;
    std::string path;  // the install path (absolute, under the root)
    bool existed = false;
    std::string copy;  // where the copy is, under the run's backup folder
};

// A bundle staged on the node ahead of its apply: a copy of the bundle file in the state
// folder, its chunks checked as they were copied, then verified as a whole.
struct StagedBundle {
    std::string manifest_sha256;
    std::string name;
    std::string version;
    std::int64_t sequence = 0;
    std::string source;      // where it was staged from
    std::string head_sha256; // of the bytes before the payload (manifest, signatures)
    std::int64_t size = 0;   // of the bundle file
    std::int64_t chunks = 0;
    std::int64_t chunks_done = 0;
    std::string state; // copying, verified
    std::string updated;
};

class StateDb {
public:
    // Opens (creating) STATE_DIR/state.db; a damaged database is an input Error naming it.
    explicit StateDb(const std::filesystem::path& state_dir);

    [[nodiscard]] Database& db() { return m_db; }
    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }
    [[nodiscard]] StateLayout layout() const { return StateLayout(m_dir); }

    [[nodiscard]] std::optional<std::string> meta(const std::string& key);
    void set_meta(const std::string& key, const std::string& value);

    [[nodiscard]] std::optional<InstalledInfo> installed();
    void set_installed(const InstalledInfo& info, const std::map<std::string, InstalledFile>& files);
    [[nodiscard]] std::map<std::string, InstalledFile> installed_files();

    // Starts a run in state "running", with its signing keys; returns its id.
    [[nodiscard]] std::int64_t begin_run(const RunInfo& run, const std::string& manifest);
    void end_run(std::int64_t run, RunState state, const std::string& error = {});
    [[nodiscard]] std::optional<RunInfo> interrupted_run();
    // The last run, when it failed with its backups still there: its rollback failed too, and
    // the node may be between versions.
    [[nodiscard]] std::optional<RunInfo> failed_run();
    [[nodiscard]] std::vector<RunInfo> runs();
    [[nodiscard]] std::string run_manifest(std::int64_t run);
    // The keys that counted toward the threshold of RUN's bundle (none for runs recorded before they were kept).
    [[nodiscard]] std::vector<SigningKey> run_signing_keys(std::int64_t run);

    // Records a step's phase durably before returning.
    void journal(std::int64_t run, const std::string& step, const std::string& phase,
                 const std::string& detail = {});
    [[nodiscard]] std::vector<JournalEntry> journal_of(std::int64_t run);

    void add_backup_item(std::int64_t run, const BackupItem& item);
    void clear_backup_items(std::int64_t run);
    // Marks RUN as being rolled back on request: it counts as interrupted until it ends.
    void set_rolling_back(std::int64_t run);
    [[nodiscard]] std::vector<BackupItem> backup_items(std::int64_t run);

    // Records a bundle being staged (replacing any record of the same manifest).
    void put_staged(const StagedBundle& staged);
    // Records how far the copy of a staged bundle got, and its state.
    void set_staged_progress(const std::string& manifest_sha256, std::int64_t chunks_done, const std::string& state);
    [[nodiscard]] std::optional<StagedBundle> staged(const std::string& manifest_sha256);
    [[nodiscard]] std::vector<StagedBundle> staged_bundles();
    void drop_staged(const std::string& manifest_sha256);

    // Appends an audit record chained to the previous one. DETAIL is an object the caller has
    // begun and filled; the operator and the host are added to it and it is closed here.
    void audit(const std::string& action, JsonWriter& detail);
    [[nodiscard]] std::vector<AuditRecord> audit_records();
    // How many records the audit log holds.
    [[nodiscard]] std::int64_t audit_count();

private:
    std::filesystem::path m_dir;
    Database m_db;
};

} // namespace ferry::applier
