#include "docs.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <utility>

namespace ferry {

namespace {

// The exit codes of README.md's table, shared by both tools.
constexpr const char* k_exit_status = R"(.SH "EXIT STATUS"
.TP
.B 0
Success.
.TP
.B 1
Bad input (a spec, trust store or key file that is missing or invalid), or an I/O error.
.TP
.B 2
Usage error: a bad command line, an output that exists without \-\-force, no terminal for a passphrase.
.TP
.B 3
Verification failed: the bundle is not authentic or not intact.
.TP
.B 4
Refused by policy: the bundle is authentic but must not be used here, or another run holds the node.
.TP
.B 5
The procedure failed and the node was rolled back to the previous version.
.TP
.B 6
The procedure failed and the node was not rolled back.
.TP
.B 7
Interrupted: a run waits for resume or rollback.
)";

// CLI11 hides from --help what is in an empty group; the docs leave it out too.
bool visible(const CLI::Option* opt) {
    return !opt->get_group().empty();
}

void collect(CLI::App& app, const std::string& path, std::vector<CommandDoc>& out) {
    CommandDoc doc;
    doc.path = path;
    doc.app = &app;
    for (const CLI::Option* opt : std::as_const(app).get_options()) {
        if (!visible(opt)) {
            continue;
        }
        (opt->nonpositional() ? doc.options : doc.positionals).push_back(opt);
    }
    doc.subcommands = app.get_subcommands([](CLI::App* sub) { return !sub->get_group().empty(); });
    const std::vector<CLI::App*> subs = doc.subcommands;
    out.push_back(std::move(doc));
    for (CLI::App* sub : subs) {
        collect(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out);
    }
}

// "--state-dir" -> "STATE_DIR": the value's name in the synopsis and the option list.
std::string metavar(const CLI::Option* opt) {
    std::string name =
        opt->get_lnames().empty() ? opt->get_snames().front() : opt->get_lnames().front();
    for (char& c : name) {
        c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return name;
}

// Flags expect no value; CLI11 gives them a type size of 1 all the same.
bool takes_value(const CLI::Option* opt) {
    return opt->get_expected_max() != 0;
}

// "-q, --quiet" or "--trust TRUST", in roff.
std::string option_label(const CLI::Option* opt) {
    std::string label;
    for (const auto& s : opt->get_snames()) {
        label += (label.empty() ? "" : ", ") + ("\\fB" + roff_escape("-" + s) + "\\fR");
    }
    for (const auto& l : opt->get_lnames()) {
        label += (label.empty() ? "" : ", ") + ("\\fB" + roff_escape("--" + l) + "\\fR");
    }
    if (takes_value(opt)) {
        label += " \\fI" + roff_escape(metavar(opt)) + "\\fR";
    }
    return label;
}

std::string positional_name(const CLI::Option* opt) {
    std::string name = opt->get_name(true);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return name;
}

// "ferry-bundler key generate --name NAME [--out-dir OUT_DIR] ...", in roff.
std::string synopsis(const std::string& tool, const CommandDoc& doc) {
    std::string line =
        "\\fB" + roff_escape(doc.path.empty() ? tool : tool + " " + doc.path) + "\\fR";
    if (!doc.subcommands.empty()) {
        line += " \\fIcommand\\fR";
    }
    for (const CLI::Option* opt : doc.options) {
        if (opt == doc.app->get_help_ptr()) {
            continue;
        }
        std::string word =
            "\\fB" +
            roff_escape(opt->get_lnames().empty() ? "-" + opt->get_snames().front()
                                                  : "--" + opt->get_lnames().front()) +
            "\\fR";
        if (takes_value(opt)) {
            word += "\\ \\fI" + roff_escape(metavar(opt)) +
                    "\\fR"; // unbreakable: an option stays with its value
        }
        line += " " + (opt->get_required() ? word : "[" + word + "]");
    }
    for (const CLI::Option* opt : doc.positionals) {
        const std::string word = "\\fI" + roff_escape(positional_name(opt)) + "\\fR";
        line += " " + (opt->get_required() ? word : "[" + word + "]");
    }
    return line;
}

void describe_options(std::ostringstream& out, const CommandDoc& doc) {
    for (const CLI::Option* opt : doc.positionals) {
        out << ".TP\n\\fI" << roff_escape(positional_name(opt)) << "\\fR\n"
            << roff_escape(opt->get_description()) << "\n";
    }
    for (const CLI::Option* opt : doc.options) {
        std::string text = opt->get_description();
        if (opt->get_required()) {
            text += " (required)";
        }
        out << ".TP\n" << option_label(opt) << "\n" << roff_escape(text) << "\n";
    }
}

// Words of a list, space-separated, for the completion script.
std::string joined(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
        out += (out.empty() ? "" : " ") + w;
    }
    return out;
}

} // namespace

std::vector<CommandDoc> command_docs(CLI::App& app) {
    std::vector<CommandDoc> out;
    collect(app, "", out);
    return out;
}

std::string roff_escape(const std::string& text) {
    std::string out;
    for (const char c : text) {
        if (c == '\\') {
            out += "\\e";
        } else if (c == '-') {
            out += "\\-";
        } else if (c == '\n') {
            out += "\n.br\n";
        } else {
            out += c;
        }
    }
    if (!out.empty() && (out.front() == '.' || out.front() == '\'')) {
        out.insert(0, "\\&");
    }
    return out;
}

std::string man_page(CLI::App& app, const std::string& version, const std::string& extra_sections) {
    const std::string tool = app.get_name();
    std::string upper = tool;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    std::string summary = app.get_description();
    if (summary.rfind(tool + ": ", 0) == 0) {
        summary = summary.substr(tool.size() + 2);
    }
    const std::vector<CommandDoc> docs = command_docs(app);

    std::ostringstream out;
    out << ".\\\" Generated from " << tool << "'s command-line definitions; do not edit.\n";
    out << ".TH " << roff_escape(upper) << " 1 \"\" \"Ferry " << roff_escape(version)
        << "\" \"Ferry manual\"\n";
    out << ".SH NAME\n" << roff_escape(tool) << " \\- " << roff_escape(summary) << "\n";
    // Left-aligned and unhyphenated, so an option is never split across lines.
    out << ".SH SYNOPSIS\n.nh\n.ad l\n";
    for (const CommandDoc& doc : docs) {
        if (doc.subcommands.empty()) {
            out << synopsis(tool, doc) << "\n.br\n";
        }
    }
    out << ".ad\n.hy\n";
    out << ".SH DESCRIPTION\n\\fB" << roff_escape(tool) << "\\fR: " << roff_escape(summary)
        << ". Each command is described below; \\fB" << roff_escape(tool)
        << " \\fIcommand\\fB \\-\\-help\\fR prints its arguments and options.\n";
    out << ".SH OPTIONS\n";
    describe_options(out, docs.front());
    out << ".SH COMMANDS\n";
    for (auto doc = docs.begin() + 1; doc != docs.end(); ++doc) {
        out << ".SS \"" << roff_escape(doc->path) << "\"\n"
            << synopsis(tool, *doc) << "\n.PP\n"
            << roff_escape(doc->app->get_description()) << ".\n";
        if (!doc->subcommands.empty()) {
            out << "Commands:";
            for (const CLI::App* sub : doc->subcommands) {
                out << " \\fB" << roff_escape(sub->get_name()) << "\\fR";
            }
            out << ".\n";
        }
        describe_options(out, *doc);
    }
    out << k_exit_status << extra_sections;
    return out.str();
}

std::string bash_completion(CLI::App& app) {
    const std::string tool = app.get_name();
    std::string function = "_" + tool;
    std::replace(function.begin(), function.end(), '-', '_');
    std::ostringstream out;
    out << "# bash completion for " << tool
        << ", generated from its command-line definitions; do not edit.\n\n";
    out << "# Sets cmds, opts (all options) and vals (those that take a value) for the command "
           "path $1.\n";
    out << function << "_words() {\n    case \"$1\" in\n";
    for (const CommandDoc& doc : command_docs(app)) {
        std::vector<std::string> cmds;
        std::vector<std::string> opts;
        std::vector<std::string> vals;
        for (const CLI::App* sub : doc.subcommands) {
            cmds.push_back(sub->get_name());
        }
        for (const CLI::Option* opt : doc.options) {
            for (const auto& s : opt->get_snames()) {
                opts.push_back("-" + s);
                if (takes_value(opt)) {
                    vals.push_back("-" + s);
                }
            }
            for (const auto& l : opt->get_lnames()) {
                opts.push_back("--" + l);
                if (takes_value(opt)) {
                    vals.push_back("--" + l);
                }
            }
        }
        out << "    \"" << doc.path << "\") cmds=\"" << joined(cmds) << "\" opts=\"" << joined(opts)
            << "\" vals=\"" << joined(vals) << "\" ;;\n";
    }
    out << "    *) cmds=\"\" opts=\"\" vals=\"\" ;;\n    esac\n}\n\n";
    out << function << "() {\n"
        << "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path=\"\" i "
           "cmds opts vals\n"
        << "    " << function << "_words \"\"\n"
        << "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
        << "        if [[ \" $cmds \" == *\" ${COMP_WORDS[i]} \"* ]]; then\n"
        << "            path=${path:+$path }${COMP_WORDS[i]}\n"
        << "            " << function << "_words \"$path\"\n"
        << "        fi\n"
        << "    done\n"
        << "    if [[ -n $prev && \" $vals \" == *\" $prev \"* ]]; then\n"
        << "        mapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n"
        << "    elif [[ $cur == -* ]]; then\n"
        << "        mapfile -t COMPREPLY < <(compgen -W \"$opts\" -- \"$cur\")\n"
        << "    elif [[ -n $cmds ]]; then\n"
        << "        mapfile -t COMPREPLY < <(compgen -W \"$cmds\" -- \"$cur\")\n"
        << "    else\n"
        << "        mapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n"
        << "    fi\n"
        << "}\n"
        << "complete -o filenames -F " << function << " " << tool << "\n";
    return out.str();
}

} // namespace ferry
