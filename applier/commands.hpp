#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace ferry::applier {

// `trust show [--trust T] [--json]`.
void setup_trust(CLI::App& app);

// `plan BUNDLE [--trust T] [--root R] [--state-dir S] [--json]`.
void setup_plan(CLI::App& app);
// `apply`, `resume` and `rollback`.
void setup_apply(CLI::App& app);
// `stage BUNDLE --trust T [--root R] [--state-dir S] [--json]`.
void setup_stage(CLI::App& app);
// `prune [--keep N] [--staged]`.
void setup_prune(CLI::App& app);
// `status`.
void setup_status(CLI::App& app);
// `history`.
void setup_history(CLI::App& app);
// `audit verify|export`.
void setup_audit(CLI::App& app);

// What `plan --inventory` needs.
struct InventoryPlanArgs {
    std::filesystem::path inventory;
    std::filesystem::path bundle;
    std::filesystem::path trust;
    std::vector<std::string> node_args; // passed on to each node's own plan
    bool json = false;
};

// `plan BUNDLE --inventory I`: each node's state and plan, the skew check and the order; the
// exit code apply --inventory would end with before changing anything (0 or 4).
[[nodiscard]] int plan_inventory(const InventoryPlanArgs& args);

// ferry-applier's entry point.
[[nodiscard]] int run_applier(int argc, char** argv);

} // namespace ferry::applier
