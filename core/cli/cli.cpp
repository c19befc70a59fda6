#include "cli.hpp"

#include "core/console.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"

#include <clocale>
#include <malloc.h>
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

// The command CLI11 got to in APP: the last subcommand parsed, or APP itself.
const CLI::App* deepest(const CLI::App& app) {
    const CLI::App* chosen = &app;
    while (!chosen->get_subcommands().empty()) {
        chosen = chosen->get_subcommands().front();
    }
    return chosen;
}

// "ferry-bundler key generate" for the command CMD.
std::string command_line_of(const CLI::App& cmd) {
    std::string path = cmd.get_name();
    for (const CLI::App* p = cmd.get_parent(); p != nullptr; p = p->get_parent()) {
        path = p->get_name() + " " + path;
    }
    return path;
}

// Where to read about CMD's options: its own --help, not the tool's.
std::string see_help(const CLI::App& cmd) { return "see '" + command_line_of(cmd) + " --help'"; }

// Reports a failure: "TOOL: error: ..." and "hint: ..." on stderr, and with JSON also the one
// document on stdout that a --json command prints when it fails.
int report(const std::string& tool, ErrorKind kind, const std::string& message, const std::string& hint,
           bool json) {
    // Messages carry text from bundles and commands (names, paths, output): escaped here, once,
    // so that none of it can end the line and forge another.
    std::fprintf(stderr, "%s: %s %s\n", tool.c_str(),
                 paint(Tone::error, kind == ErrorKind::internal ? "internal error:" : "error:").c_str(),
                 printable(message).c_str());
    if (!hint.empty()) {
        std::fprintf(stderr, "%s %s\n", paint(Tone::hint, "hint:").c_str(), printable(hint).c_str());
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

void refuse_to_replace(const std::filesystem::path& path, bool force, const std::string& hint) {
    if (!force && std::filesystem::exists(path)) {
        throw Error(ErrorKind::usage, path.string() + " already exists", hint);
    }
}

void require_output_folder(const std::filesystem::path& dir, const std::string& context) {
    std::error_code ec;
    const auto status = std::filesystem::status(dir, ec);
    if (status.type() == std::filesystem::file_type::not_found) {
        throw Error(ErrorKind::usage, dir.string() + ": no such folder (" + context + ")",
                    "create it first (mkdir -p " + dir.string() + "), or name an existing folder");
    }
    if (!std::filesystem::is_directory(status)) {
        throw Error(ErrorKind::usage, dir.string() + ": not a folder (" + context +
                                          (ec ? ", " + ec.message() : std::string()) + ")");
    }
}

void add_console_options(CLI::App& app) {
    const std::vector<CLI::App*> subs = app.get_subcommands([](CLI::App*) { return true; });
    if (!subs.empty()) {
        for (CLI::App* sub : subs) {
            add_console_options(*sub);
        }
        return;
    }
    CLI::Option* quiet =
        app.add_flag("-q,--quiet")->description("Say only errors, warnings and the result: no progress, no steps");
    CLI::Option* verbose = app.add_flag("-v,--verbose")
                               ->description("Say each step of the work as it happens, and show progress for small work too");
    quiet->excludes(verbose);
}

int run_tool(const std::string& tool, CLI::App& app, int argc, char** argv) {
    // Path names are bytes in UTF-8 whatever the user's locale, so libarchive converts them the
    // same way everywhere and bundles stay reproducible.
    std::setlocale(LC_CTYPE, "C.UTF-8");
    // The payload's threads pass large blocks to each other; an allocator arena per thread would
    // only reserve address space (64 MiB each), which verify promises to bound.
    mallopt(M_ARENA_MAX, 1);
    // Those blocks (8 MiB frames) are reused from the heap rather than mapped and zero-filled
    // by the kernel each time.
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
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
        return report(tool, ErrorKind::usage, e.what(), see_help(*deepest(app)), json_in_argv(argc, argv));
    }
    install_interrupt_cleanup();
    const CLI::App* chosen = deepest(app);
    const CLI::Option* quiet = chosen->get_option_no_throw("--quiet");
    const CLI::Option* verbose = chosen->get_option_no_throw("--verbose");
    set_verbosity(quiet != nullptr && quiet->count() > 0       ? Verbosity::quiet
                  : verbose != nullptr && verbose->count() > 0 ? Verbosity::verbose
                                                               : Verbosity::normal);
    const bool json = json_given(*chosen);
    try {
        const auto it = actions().find(chosen);
        if (it == actions().end()) {
            throw Error(ErrorKind::usage, "no command given", see_help(*chosen));
        }
        return it->second();
    } catch (const Error& e) {
        // A usage error without advice of its own points at the command's options.
        const std::string hint = e.kind() == ErrorKind::usage && e.hint().empty() ? see_help(*chosen) : e.hint();
        return report(tool, e.kind(), e.what(), hint, json);
    } catch (const std::exception& e) {
        return report(tool, ErrorKind::internal, e.what(), "", json);
    }
}

} // namespace ferry
