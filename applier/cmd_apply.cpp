#include "applier/apply.hpp"
#include "applier/commands.hpp"

#include "core/cli.hpp"
#include "core/defaults.hpp"
#include "core/json.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>

namespace ferry::applier {

namespace {

void add_site_options(CLI::App* cmd, SiteOptions& site) {
    cmd->add_option("--root", site.root, "Install root: every install path is relative to it (default /)")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--state-dir", site.state_dir, "The applier's state folder (default " + std::string(k_default_state_dir) + ")");
}

// The outcome's name in JSON: "already installed" is "already_installed".
std::string result_name(std::string result) {
    std::replace(result.begin(), result.end(), ' ', '_');
    return result;
}

int print_outcome(const Outcome& o, bool json) {
    if (json) {
        JsonWriter j;
        j.begin_object().field("result", result_name(o.result)).field("bundle", o.name).field("from", o.from_version)
            .field("to", o.to_version).field("run", o.run).key("notes").begin_array();
        for (const auto& n : o.notes) {
            j.value(n);
        }
        j.end_array().end_object();
        std::fputs(j.str().c_str(), stdout);
        return 0;
    }
    if (o.result == "already installed") {
        std::printf("%s %s is already installed; nothing to do\n", o.name.c_str(), o.to_version.c_str());
    } else if (o.result == "rolled back") {
        std::printf("rolled back %s %s%s\n", o.name.c_str(), o.from_version.c_str(),
                    o.to_version.empty() ? " (nothing installed now)" : (" to " + o.to_version).c_str());
    } else if (o.result == "discarded") {
        std::printf("discarded interrupted run %lld of %s %s\n", static_cast<long long>(o.run), o.name.c_str(),
                    o.to_version.c_str());
    } else {
        std::printf("%s %s %s%s (run %lld)\n", o.result.c_str(), o.name.c_str(), o.to_version.c_str(),
                    o.from_version.empty() ? "" : (" (was " + o.from_version + ")").c_str(),
                    static_cast<long long>(o.run));
    }
    for (const auto& n : o.notes) {
        std::printf("  note: %s\n", n.c_str());
    }
    return 0;
}

} // namespace

void setup_apply(CLI::App& app) {
    auto opts = std::make_shared<ApplyOptions>();
    auto flags = std::make_shared<std::pair<bool, bool>>(false, false); // json, quiet
    CLI::App* cmd = app.add_subcommand("apply", "Verify a bundle and upgrade this node, rolling back on failure");
    cmd->add_option("bundle", opts->bundle, "The .ferry bundle")->required();
    cmd->add_option("--trust", opts->trust, "Trust store (default " + std::string(k_default_trust_store) + ", the node's own)");
    add_site_options(cmd, opts->site);
    cmd->add_flag("--allow-downgrade", opts->policy.allow_downgrade, "Accept an older version, sequence or signing time");
    cmd->add_flag("--allow-major", opts->policy.allow_major, "Accept a major version upgrade");
    cmd->add_flag("--ack-breaking", opts->policy.ack_breaking, "Acknowledge the bundle's declared breaking changes");
    cmd->add_flag("--json", flags->first, "Print the outcome as JSON");
    cmd->add_flag("-q,--quiet", flags->second, "No progress output");
    set_action(*cmd, [opts, flags] {
        opts->site.progress = !flags->second;
        return print_outcome(apply_bundle(*opts), flags->first);
    });

    auto site = std::make_shared<SiteOptions>();
    auto json = std::make_shared<bool>(false);
    CLI::App* res = app.add_subcommand("resume", "Finish an interrupted run");
    add_site_options(res, *site);
    res->add_flag("--json", *json, "Print the outcome as JSON");
    set_action(*res, [site, json] { return print_outcome(resume(*site), *json); });

    CLI::App* back = app.add_subcommand("rollback", "Undo an interrupted run, or else the last applied bundle");
    add_site_options(back, *site);
    back->add_flag("--json", *json, "Print the outcome as JSON");
    set_action(*back, [site, json] { return print_outcome(rollback(*site), *json); });
}

} // namespace ferry::applier
