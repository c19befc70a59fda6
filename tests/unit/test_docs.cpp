#include "applier/commands.hpp"
#include "bundler/commands.hpp"
#include "core/cli/docs.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace {

// One command of a tool as CLI11 holds it: its words and every option name, with dashes.
struct Command {
    std::string path;
    std::vector<std::string> subcommands;
    std::vector<std::string> options;
    std::vector<std::string> positionals;
};

// Every command of APP, walked with CLI11 alone (not with command_docs), so the check does not
// trust the walk it checks.
void walk(CLI::App& app, const std::string& path, std::vector<Command>& out) {
    Command c;
    c.path = path;
    for (const CLI::Option* opt : std::as_const(app).get_options()) {
        for (const auto& s : opt->get_snames()) {
            c.options.push_back("-" + s);
        }
        for (const auto& l : opt->get_lnames()) {
            c.options.push_back("--" + l);
        }
        if (!opt->nonpositional()) {
            c.positionals.push_back(opt->get_name(true));
        }
    }
    const std::vector<CLI::App*> subs = app.get_subcommands([](CLI::App*) { return true; });
    for (const CLI::App* sub : subs) {
        c.subcommands.push_back(sub->get_name());
    }
    out.push_back(c);
    for (CLI::App* sub : subs) {
        walk(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out);
    }
}

// The part of TEXT from the line starting with FROM up to the next line starting with UNTIL.
std::string section(const std::string& text, const std::string& from, const std::string& until) {
    const auto begin = text.find("\n" + from);
    if (begin == std::string::npos) {
        return {};
    }
    const auto end = text.find("\n" + until, begin + 1);
    return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// The words of NAME="..." in a completion script's case line, with a space on either side.
std::string words(const std::string& line, const std::string& name) {
    const auto begin = line.find(" " + name + "=\"");
    if (begin == std::string::npos) {
        return {};
    }
    const auto first = begin + name.size() + 3;
    return " " + line.substr(first, line.find('"', first) - first) + " ";
}

std::string upper(std::string s) {
    for (char& ch : s) {
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return s;
}

void check_every_command_documented(const std::function<void(CLI::App&)>& make_app,
                                    std::size_t at_least) {
    CLI::App app;
    make_app(app);
    const std::string man = ferry::man_page(app, "9.9.9", "");
    const std::string completion = ferry::bash_completion(app);
    std::vector<Command> commands;
    walk(app, "", commands);
    REQUIRE(commands.size() >= at_least);
    for (const Command& c : commands) {
        CAPTURE(c.path);
        const std::string man_part =
            c.path.empty() ? section(man, ".SH OPTIONS", ".SH")
                           : section(man, ".SS \"" + ferry::roff_escape(c.path) + "\"", ".S");
        REQUIRE_FALSE(man_part.empty());
        const std::string completion_line = section(completion, "    \"" + c.path + "\")", "    ");
        REQUIRE_FALSE(completion_line.empty());
        for (const std::string& option : c.options) {
            CAPTURE(option);
            CHECK(man_part.find("\\fB" + ferry::roff_escape(option) + "\\fR") != std::string::npos);
            CHECK(words(completion_line, "opts").find(" " + option + " ") != std::string::npos);
        }
        for (const std::string& sub : c.subcommands) {
            CAPTURE(sub);
            // A tool's commands each have their own section, checked with their path; a command's
            // subcommands are also listed in its section.
            if (!c.path.empty()) {
                CHECK(man_part.find("\\fB" + ferry::roff_escape(sub) + "\\fR") !=
                      std::string::npos);
            }
            CHECK(words(completion_line, "cmds").find(" " + sub + " ") != std::string::npos);
        }
        for (const std::string& positional : c.positionals) {
            CHECK(man_part.find("\\fI" + ferry::roff_escape(upper(positional)) + "\\fR") !=
                  std::string::npos);
        }
    }
}

} // namespace

TEST_CASE("ferry::man_page and ferry::bash_completion: every command and option of ferry-applier") {
    check_every_command_documented(ferry::applier::make_applier_app, 12);
}

TEST_CASE("ferry::man_page and ferry::bash_completion: every command and option of ferry-bundler") {
    check_every_command_documented(ferry::bundler::make_bundler_app, 6);
}

TEST_CASE("ferry::roff_escape") {
    CHECK(ferry::roff_escape("--state-dir") == "\\-\\-state\\-dir");
    CHECK(ferry::roff_escape("a\\b") == "a\\eb");
    CHECK(ferry::roff_escape(".hidden") == "\\&.hidden");
    CHECK(ferry::roff_escape("'quoted") == "\\&'quoted");
}

namespace {

// The options of COMMAND (one entry of walk's output) that name files or folders it writes.
void check_conventions(const std::function<void(CLI::App&)>& make_app) {
    CLI::App app;
    make_app(app);
    std::vector<Command> commands;
    walk(app, "", commands);
    for (const Command& c : commands) {
        if (!c.subcommands.empty()) {
            continue;
        }
        CAPTURE(c.path);
        const auto has = [&](const std::string& name) {
            return std::find(c.options.begin(), c.options.end(), name) != c.options.end();
        };
        // -q and -v on every command, with their long names.
        CHECK(has("-q"));
        CHECK(has("--quiet"));
        CHECK(has("-v"));
        CHECK(has("--verbose"));
        // -o is only ever --output (a file); a folder is --out-dir; the old --out is gone.
        if (has("-o")) {
            CHECK(has("--output"));
        }
        CHECK_FALSE(has("--out"));
    }
}

} // namespace

TEST_CASE("ferry::add_console_options: -q, -v and the output options follow one rule in both tools") {
    check_conventions(ferry::applier::make_applier_app);
    check_conventions(ferry::bundler::make_bundler_app);
}
