#pragma once

// The inspect and verify commands, which both tools offer with the same behaviour.

#include <CLI/CLI.hpp>

namespace ferry::keys {

// Registers `inspect BUNDLE [--trust T] [--files] [--json]`.
void setup_inspect(CLI::App& app);

// Registers `verify BUNDLE [--trust T] [--json] [--quiet]`; T defaults to the node's own store.
void setup_verify(CLI::App& app);

} // namespace ferry::keys
