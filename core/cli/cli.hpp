#pragma once

// What both tools' mains share: parsing, the one place errors are caught, exit codes.

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace ferry {

// Parses ARGV with APP and runs the chosen command; prints "TOOL: error: ..." and "hint: ..."
// for a ferry::Error and returns its documented exit code.
[[nodiscard]] int run_tool(const std::string& tool, CLI::App& app, int argc, char** argv);

// Registers ACTION as what SUB runs; its return value is the exit code.
void set_action(CLI::App& sub, std::function<int()> action);

} // namespace ferry
