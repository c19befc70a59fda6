// greeter: the sample service that Ferry's tests bundle, install, upgrade and roll back.
// One source, built twice: GREETER_VERSION names the release and GREETER_MAJOR_FEATURE turns on
// the 2.x behaviour (build.hpp).

#include "build.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "settings.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace greeter {
namespace {

constexpr std::string_view k_usage =
    "usage: greeter --version\n"
    "       greeter --config FILE\n"
    "       greeter serve --config FILE [--root DIR]\n"
    "       greeter check (--port N | --config FILE) [--path PATH] [--expect-version X]\n"
    "                     [--timeout SECONDS]\n"
    "       greeter cluster (role | synced | step-down) --config FILE\n";

[[nodiscard]] int exit_code(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::settings:
    case ErrorKind::unhealthy:
        return 1;
    case ErrorKind::usage:
        return 2;
    case ErrorKind::database:
        return 3;
    case ErrorKind::network:
        return 4;
    }
    return 1;
}

// `greeter --config FILE`: checks the settings and prints the greeting, as 1.0.0 did.
[[nodiscard]] int run_show(Args args) {
    const auto options = parse_options("greeter", args, {"--config"});
    const Settings settings = load_settings(options.at("--config"));
    std::cout << settings.greeting << " (greeter " << k_version << ", port " << settings.port;
    if constexpr (k_has_language) {
        std::cout << ", language " << settings.language;
    }
    std::cout << ")\n";
    return EXIT_SUCCESS;
}

[[nodiscard]] int run(Args args) {
    const std::string_view command = args.empty() ? "" : args.front();
    if (args.size() == 1 && command == "--version") {
        std::cout << "greeter " << k_version << '\n';
        return EXIT_SUCCESS;
    }
    if (args.size() == 1 && (command == "--help" || command == "-h")) {
        std::cout << k_usage;
        return EXIT_SUCCESS;
    }
    if (args.size() == 2 && command == "--config") {
        return run_show(args);
    }
    if (command == "serve") {
        return run_serve(args.subspan(1));
    }
    if (command == "check") {
        return run_check(args.subspan(1));
    }
    if (command == "cluster") {
        return run_cluster(args.subspan(1));
    }
    throw Error(ErrorKind::usage, "expected --version, --config FILE, serve, check or cluster");
}

} // namespace

std::map<std::string, std::string> parse_options(std::string_view command, Args args,
                                                 std::initializer_list<std::string_view> known) {
    const auto usage_error = [command](std::string_view before, std::string_view name,
                                       std::string_view after) {
        std::string message(command);
        message.append(": ").append(before).append(name).append(after);
        return Error(ErrorKind::usage, message);
    };
    std::map<std::string, std::string> options;
    for (std::size_t i = 0; i < args.size(); i += 2) {
        if (std::find(known.begin(), known.end(), args[i]) == known.end()) {
            throw usage_error("unknown option \"", args[i], "\"");
        }
        if (i + 1 == args.size()) {
            throw usage_error("", args[i], " needs a value");
        }
        if (!options.emplace(args[i], args[i + 1]).second) {
            throw usage_error("", args[i], " given twice");
        }
    }
    return options;
}

} // namespace greeter

int main(int argc, char** argv) {
    try {
        const std::vector<std::string_view> args(argv + 1, argv + argc);
        return greeter::run(args);
    } catch (const greeter::Error& e) {
        const bool failed_check = e.kind() == greeter::ErrorKind::unhealthy;
        std::cerr << (failed_check ? "greeter: check failed: " : "greeter: error: ") << e.what()
                  << '\n';
        if (!e.hint().empty()) {
            std::cerr << "greeter: hint: " << e.hint() << '\n';
        }
        if (e.kind() == greeter::ErrorKind::usage) {
            std::cerr << greeter::k_usage;
        }
        return greeter::exit_code(e.kind());
    } catch (const std::exception& e) {
        std::cerr << "greeter: error: " << e.what() << '\n';
        return 1;
    }
}
