#pragma once

// What both tools' mains share: parsing, the one place errors are caught, exit codes.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <string>

namespace ferry {

// Parses ARGV with APP and runs the chosen command; prints "TOOL: error: ..." and "hint: ..."
// (in colour on a terminal) for a ferry::Error and returns its documented exit code; a bad
// command line's hint names the command's own --help.
[[nodiscard]] int run_tool(const std::string& tool, CLI::App& app, int argc, char** argv);

// Gives every command of APP (each leaf of its tree) the same -q/--quiet and -v/--verbose,
// which set core/console.hpp's verbosity before the command runs.
void add_console_options(CLI::App& app);

// Throws a usage Error, "DIR: no such folder (CONTEXT)", when DIR is not an existing folder:
// checked before any work or passphrase prompt, so a typo costs nothing.
void require_output_folder(const std::filesystem::path& dir, const std::string& context);

// Throws a usage Error, "PATH already exists" with HINT, when PATH exists and FORCE is not set:
// an output is never replaced unless asked.
void refuse_to_replace(const std::filesystem::path& path, bool force,
                       const std::string& hint = "pass --force to replace it");

// Registers ACTION as what SUB runs; its return value is the exit code.
void set_action(CLI::App& sub, std::function<int()> action);

} // namespace ferry
