#pragma once

// The coordinator's own journal: where each rollout of a cluster stands, so that a coordinator
// killed at any point and run again carries on from there, and its hash-chained audit log of
// every decision it took. SQLite in WAL mode in the rollout folder, beside a lock that keeps a
// second coordinator off the same cluster. Every record survives the coordinator being killed;
// those that must also survive a power cut of its machine are synced to disk before the steps
// they announce (a batch about to begin, naming its nodes; --continue; the end of a rollout),
// which syncs every record before them too: one sync per batch, not per node. A record lost to
// a power cut costs a step done again (a stage, a gate), never a node touched unawares: the
// nodes of the last batch begun are looked at again.

#include "applier/state/lock.hpp"
#include "applier/state/sqlite.hpp"
#include "applier/state/state.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ferry::rollout {

// How far a node got in a rollout, as the coordinator last recorded it.
enum class NodeStep {
    none,     // not reached yet
    staged,   // the bundle is staged there
    applying, // its apply was started: on resume, find out how it ended
    applied,  // its apply succeeded: on resume, its gate is still to pass
    upgraded, // healthy, synced and stable on the new version
    failed,   // failed and rolled back (counted against the budget)
    broken,   // failed and not rolled back: the rollout stops there
};

// One rollout of one bundle over the cluster.
struct RolloutRecord {
    std::int64_t id = 0;
    std::string bundle;
    std::string version;
    std::string manifest_sha256;
    std::string started;   // UTC, ISO 8601
    std::string ended;     // "" while it is open
    std::string result;    // the last result recorded: done, paused, refused, stopped, failed; "" while running
    std::string message;
    std::string last_step; // the last step recorded, e.g. "applying node-3"
    bool continued = false;               // the pause after the canaries is behind it
    std::uint64_t failures = 0;           // nodes failed and rolled back, against max_failures
    std::optional<std::int64_t> wait_until; // after_canary: the end of the wait (Unix time)
    std::vector<std::string> batch;         // the nodes of the last batch begun
    std::map<std::string, NodeStep> nodes;

    [[nodiscard]] bool open() const { return ended.empty(); }
};

// Where a rollout folder is by default: beside the inventory, INVENTORY's stem + ".rollout".
[[nodiscard]] std::filesystem::path default_rollout_dir(const std::filesystem::path& inventory);

class Journal {
public:
    // Opens (creating) DIR/rollout.db and takes DIR/lock: throws a policy Error naming the
    // coordinator that holds it.
    explicit Journal(const std::filesystem::path& dir);

    // The rollout still open (not done and not stopped), if any.
    [[nodiscard]] std::optional<RolloutRecord> open_rollout();
    // Starts recording a new rollout and returns it.
    [[nodiscard]] RolloutRecord begin(const std::string& bundle, const std::string& version,
                                      const std::string& manifest_sha256);
    // Closes the open rollout ID because rollout BY replaced it.
    void supersede(std::int64_t id, std::int64_t by);

    // Each records durably before it returns; STEP, DETAIL and the decision also go to the audit log.
    void node_step(std::int64_t id, const std::string& node, NodeStep step, const std::string& detail = {});
    void set_continued(std::int64_t id);
    void set_failures(std::int64_t id, std::uint64_t failures);
    void set_wait_until(std::int64_t id, std::int64_t unix_time);
    // The batch REASON of NODES begins: synced to disk before any of them is touched.
    void begin_batch(std::int64_t id, const std::string& reason, const std::vector<std::string>& nodes);
    // A decision worth an audit record that changes no node ("batch", "step_down"); AS_STEP:
    // it is also the rollout's last step, which status shows.
    void decision(std::int64_t id, const std::string& what, const std::string& detail = {}, bool as_step = true);
    // Records how the rollout ended this time; CLOSE ends it (a later run starts another).
    void finish(std::int64_t id, const std::string& result, const std::string& message, bool close);

    [[nodiscard]] std::vector<applier::AuditRecord> audit_records();
    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }

private:
    void audit(std::int64_t id, const std::string& action, const std::string& node, const std::string& detail);
    [[nodiscard]] RolloutRecord read(std::int64_t id);

    std::filesystem::path m_dir;
    applier::StateLock m_lock;
    applier::Database m_db;
};

// The latest rollout recorded in DIR, read without taking the lock (for status); nullopt when
// DIR holds no journal.
[[nodiscard]] std::optional<RolloutRecord> latest_rollout(const std::filesystem::path& dir);
// DIR's coordinator audit log, read without the lock; empty when DIR holds no journal.
[[nodiscard]] std::vector<applier::AuditRecord> rollout_audit_records(const std::filesystem::path& dir);
// The pid of the coordinator working in DIR, if one is.
[[nodiscard]] std::optional<pid_t> coordinator_pid(const std::filesystem::path& dir);

// "staged", "applying", ... and back.
[[nodiscard]] std::string step_name(NodeStep step);
[[nodiscard]] std::optional<NodeStep> parse_step(const std::string& name);

} // namespace ferry::rollout
