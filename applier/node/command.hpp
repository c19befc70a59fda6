#pragma once

// Running the procedure's commands (hooks, checks, migration scripts): no shell, a timeout
// that ends the command's whole process group, output appended to a log file.

#include "core/text.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ferry::applier {

struct CommandResult {
    int exit_code = -1;     // -1 when killed by a signal or timed out
    bool timed_out = false;
    std::string output_tail; // the last lines the command wrote
};

struct CommandSpec {
    std::vector<std::string> argv;
    std::chrono::milliseconds timeout{10000};
    std::map<std::string, std::string> env; // added to the applier's environment
    std::filesystem::path log;              // stdout and stderr are appended here
    std::string label; // names the command in a header and a footer with the time in the log; none if empty
    std::filesystem::path stdout_to{}; // when set, stdout is written here instead of the log
};

// Runs a command and waits for it (or for its timeout), with a header and a footer naming it
// and the time in the log. A SIGINT or SIGTERM ends the command's process group and throws an
// interrupted Error.
[[nodiscard]] CommandResult run_command(const CommandSpec& spec);

// "SIGINT", "SIGTERM", "SIGHUP" or "signal N".
[[nodiscard]] std::string signal_name(int sig);

// ARGV with every "{NAME}" replaced by VARS[NAME].
[[nodiscard]] std::vector<std::string> expand(const std::vector<std::string>& argv,
                                              const std::map<std::string, std::string>& vars);

// "exit code 3", "timed out after 5 s" or "killed by signal 9", and the output's last lines.
[[nodiscard]] std::string describe(const CommandResult& result, std::chrono::milliseconds timeout);

} // namespace ferry::applier
