#pragma once

// The single-node procedure's entry points: apply, resume and rollback.

#include "applier/plan.hpp"
#include "core/defaults.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace ferry::applier {

struct SiteOptions {
    std::filesystem::path root = "/";
    std::filesystem::path state_dir = k_default_state_dir;
    bool progress = true;
};

struct ApplyOptions {
    SiteOptions site;
    std::filesystem::path bundle;
    std::filesystem::path trust = k_default_trust_store;
    PolicyOptions policy;
};

// What a run ended as, for the summary.
struct Outcome {
    std::string result; // applied, already installed, rolled back, resumed, discarded
    std::string name;
    std::string from_version;
    std::string to_version;
    std::int64_t run = 0;
    std::vector<std::string> notes;
};

// Verifies, checks policy, stages, backs up, stops, installs, migrates, starts, checks health
// and commits. A failure after the stop hook rolls back and throws a rolled_back Error (or a
// failed one if the rollback failed too).
[[nodiscard]] Outcome apply_bundle(const ApplyOptions& options);

// Finishes an interrupted run: forward if it had stopped the service, else discards it.
[[nodiscard]] Outcome resume(const SiteOptions& options);

// Undoes an interrupted run, or else the last committed one, from its backups.
[[nodiscard]] Outcome rollback(const SiteOptions& options);

} // namespace ferry::applier
