#pragma once

// A tool's man page and bash completion, written from its CLI11 definitions so they cannot drift
// from what the tool parses (the generator in core/cli/docgen.cpp runs them at build time).

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace ferry {

// One command of a tool: its words after the tool's name ("" for the tool itself, "key generate"),
// and the options and subcommands that reach the user (hidden ones left out).
struct CommandDoc {
    std::string path;
    CLI::App* app = nullptr;
    std::vector<const CLI::Option*> positionals;
    std::vector<const CLI::Option*> options;
    std::vector<CLI::App*> subcommands;
};

// Every command of APP, the tool first, then depth first in the order they were registered.
[[nodiscard]] std::vector<CommandDoc> command_docs(CLI::App& app);

// TEXT escaped for roff: backslashes, hyphens (so options copy as ASCII), a leading dot or quote.
[[nodiscard]] std::string roff_escape(const std::string& text);

// The man page (section 1) of APP: name, synopsis, every command with its arguments and options,
// the exit status table, then the roff of EXTRA_SECTIONS (environment, files, see also).
[[nodiscard]] std::string man_page(CLI::App& app, const std::string& version,
                                   const std::string& extra_sections);

// A bash completion script for APP: subcommands, then each command's options; files for values.
[[nodiscard]] std::string bash_completion(CLI::App& app);

} // namespace ferry
