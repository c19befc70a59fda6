#pragma once

// greeter's subcommands, each given the arguments that follow its name, and their option parser.

#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>

namespace greeter {

using Args = std::span<const std::string_view>;

// `greeter serve --config FILE [--root DIR]`: serves HTTP on 127.0.0.1 until SIGTERM or SIGINT.
[[nodiscard]] int run_serve(Args args);

// `greeter check (--port N | --config FILE) [--path P] [--expect-version X] [--timeout S]`:
// 0 if the service answers 200 (with version X), else Error(unhealthy).
[[nodiscard]] int run_check(Args args);

// `greeter cluster role|synced|step-down --config FILE`: asks the running instance in cluster
// mode its role (leader or follower), whether it caught up with the leader, or to step down.
[[nodiscard]] int run_cluster(Args args);

// Parses ARGS as "--name value" pairs, each name one of KNOWN and given at most once; throws
// Error(usage) naming COMMAND otherwise.
[[nodiscard]] std::map<std::string, std::string>
parse_options(std::string_view command, Args args, std::initializer_list<std::string_view> known);

} // namespace greeter
