#include "cli.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"

#include <clocale>
#include <cstdio>
#include <map>

namespace ferry {

namespace {

std::map<const CLI::App*, std::function<int()>>& actions() {
    static std::map<const CLI::App*, std::function<int()>> table;
    return table;
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
        std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), e.what());
        std::fprintf(stderr, "hint: run '%s --help' for usage\n", tool.c_str());
        return exit_code(ErrorKind::usage);
    }
    install_interrupt_cleanup();
    try {
        const CLI::App* chosen = &app;
        while (!chosen->get_subcommands().empty()) {
            chosen = chosen->get_subcommands().front();
        }
        const auto it = actions().find(chosen);
        if (it == actions().end()) {
            throw Error(ErrorKind::usage, "no command given", "run '" + tool + " --help' for usage");
        }
        return it->second();
    } catch (const Error& e) {
        // Escaped once more here: whatever a message quotes from a bundle, it prints safely.
        std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), printable(e.what()).c_str());
        if (!e.hint().empty()) {
            std::fprintf(stderr, "hint: %s\n", printable(e.hint()).c_str());
        }
        return exit_code(e.kind());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: internal error: %s\n", tool.c_str(), printable(e.what()).c_str());
        return exit_code(ErrorKind::internal);
    }
}

} // namespace ferry
