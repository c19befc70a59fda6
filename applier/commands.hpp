#pragma once

#include <CLI/CLI.hpp>

namespace ferry::applier {

// `trust show --trust T [--json]`.
void setup_trust(CLI::App& app);

// ferry-applier's entry point.
[[nodiscard]] int run_applier(int argc, char** argv);

} // namespace ferry::applier
