#pragma once

#include <CLI/CLI.hpp>

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

// Builds ferry-applier's command line in APP: what run_applier parses, and what its man page and
// completion are generated from.
void make_applier_app(CLI::App& app);

// ferry-applier's entry point.
[[nodiscard]] int run_applier(int argc, char** argv);

} // namespace ferry::applier
