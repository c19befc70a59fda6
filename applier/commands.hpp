#pragma once

#include "applier/node/plan.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace ferry::applier {

// `trust init FILE`, `trust show`, `trust update BUNDLE`.
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
    std::filesystem::path rollout_dir; // the coordinator's journal; "" for the default beside the inventory
};

// `plan BUNDLE --inventory I`: each node's state and plan, the skew check and the order; the
// exit code apply --inventory would end with before changing anything (0 or 4).
[[nodiscard]] int plan_inventory(const InventoryPlanArgs& args);

// `apply BUNDLE --inventory I [--continue]`: the rolling upgrade; its documented exit code.
[[nodiscard]] int apply_inventory(const InventoryPlanArgs& args, bool continue_after_pause, bool progress);

// What each node's own commands are given: --trust TRUST (when set) and the policy's flags.
[[nodiscard]] std::vector<std::string> node_args(const std::filesystem::path& trust, const PolicyOptions& policy);

// `status --inventory I`: every node's state, version, role and health, and the latest rollout
// recorded in ROLLOUT_DIR (default beside the inventory); 0 when every node is installed,
// healthy and on one version and no rollout is open, else 4.
[[nodiscard]] int status_inventory(const std::filesystem::path& inventory, const std::filesystem::path& rollout_dir,
                                   bool json);

// `step-down`: the installed release's cluster.step_down, run on this node.
void setup_step_down(CLI::App& app);
// Builds ferry-applier's command line in APP: what run_applier parses, and what its man page and
// completion are generated from.
void make_applier_app(CLI::App& app);

// ferry-applier's entry point.
[[nodiscard]] int run_applier(int argc, char** argv);

} // namespace ferry::applier
