#pragma once

// The single-node procedure's entry points: apply, resume and rollback.

#include "applier/node/plan.hpp"
#include "applier/node/site.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ferry::applier {

struct ApplyOptions {
    SiteOptions site;
    std::filesystem::path bundle;
    std::filesystem::path trust; // empty: the node's own below the root
    PolicyOptions policy;
};

// What a run ended as, for the summary.
struct Outcome {
    enum class Result { applied, already_installed, resumed, discarded, rolled_back };
    Result result = Result::applied;
    std::string name;
    std::string from_version;
    std::string to_version;
    std::int64_t run = 0;
    std::vector<std::string> notes;
};

// Verifies, checks policy, stages, backs up, stops, installs, migrates, starts, checks health
// and commits. A failure after the stop hook rolls back and throws a rolled_back Error (or a
// failed one if the rollback failed too).
// "applied", "already_installed", ... (the JSON result, and the word the summary starts with).
[[nodiscard]] std::string result_name(Outcome::Result result);

[[nodiscard]] Outcome apply_bundle(const ApplyOptions& options);

// Finishes an interrupted run: forward if it had stopped the service, else discards it.
[[nodiscard]] Outcome resume(const SiteOptions& options);

struct RollbackOptions {
    SiteOptions site;
    std::optional<std::int64_t> run; // a committed run to undo, named by the operator
};

// Undoes an interrupted run (or one whose automatic rollback failed) from its backups; a
// committed run only when named, after keeping a copy of everything it changes back.
[[nodiscard]] Outcome rollback(const RollbackOptions& options);

struct PruneOptions {
    SiteOptions site;
    std::size_t keep = 1; // run folders (and copies kept before rollbacks) to keep, newest first
    bool staged = false;  // also drop every staged bundle
};

struct PruneResult {
    std::vector<std::string> removed; // the folders removed
    std::uint64_t bytes = 0;          // what they held
};

// Removes the backups of ended runs, and the copies kept before rollbacks, but for the KEEP
// newest of each; the installed run's backups and an interrupted run's are never touched.
// Logged in the audit log.
[[nodiscard]] PruneResult prune(const PruneOptions& options);

} // namespace ferry::applier
