#include "cli.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"

#include <clocale>
#include <cstdio>
#include <map>

namespace ferry {

namespace {

std::map<const CLI::App*, std::function<int()>>& actions() {
    static std::map<const CLI::App*, std::function<int()>> table;
    return table;
}

// Whether --json is on the command line, for an error found before it could be parsed.
bool json_in_argv(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") {
            return false;
        }
        if (arg == "--json") {
            return true;
        }
    }
    return false;
}

// Whether the chosen command takes --json and was given it.
bool json_given(const CLI::App& chosen) {
    const CLI::Option* json = chosen.get_option_no_throw("--json");
    return json != nullptr && json->count() > 0;
}

// Reports a failure: "TOOL: error: ..." and "hint: ..." on stderr, and with JSON also the one
// document on stdout that a --json command prints when it fails.
int report(const std::string& tool, ErrorKind kind, const std::string& message, const std::string& hint,
           bool json) {
    // Messages carry text from bundles and commands (names, paths, output): escaped here, once,
    // so that none of it can end the line and forge another.
    std::fprintf(stderr, "%s: %s%s\n", tool.c_str(), kind == ErrorKind::internal ? "internal error: " : "error: ",
                 printable(message).c_str());
    if (!hint.empty()) {
        std::fprintf(stderr, "hint: %s\n", printable(hint).c_str());
    }
    const int code = exit_code(kind);
    if (json) {
        JsonWriter j;
        j.begin_object().field("result", failure_result(kind)).key("error").begin_object()
            .field("kind", kind_name(kind)).field("message", message).field("hint", hint).field("exit_code", code)
            .end_object().end_object();
        std::fputs(j.str().c_str(), stdout);
    }
    return code;
}

} // namespace

void set_action(CLI::App& sub, std::function<int()> action) { actions()[&sub] = std::move(action); }

int run_tool(const std::string& tool, CLI::App& app, int argc, char** argv) {
    // Path names are bytes in UTF-8 whatever the user's locale, so libarchive converts them the
    // same way everywhere and bundles stay reproducible.
    std::setlocale(LC_CTYPE, "C.UTF-8");
    app.require_subcommand(1);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return report(tool, ErrorKind::usage, e.what(), "run '" + tool + " --help' for usage", json_in_argv(argc, argv));
    }
    install_interrupt_cleanup();
    const CLI::App* chosen = &app;
    while (!chosen->get_subcommands().empty()) {
        chosen = chosen->get_subcommands().front();
    }
    const bool json = json_given(*chosen);
    try {
        const auto it = actions().find(chosen);
        if (it == actions().end()) {
            throw Error(ErrorKind::usage, "no command given", "run '" + tool + " --help' for usage");
        }
        return it->second();
    } catch (const Error& e) {
        return report(tool, e.kind(), e.what(), e.hint(), json);
    } catch (const std::exception& e) {
        return report(tool, ErrorKind::internal, e.what(), "", json);
    }
}

} // namespace ferry
