#include "applier/node/apply.hpp"
#include "applier/node/stage.hpp"
#include "applier/commands.hpp"

#include "core/cli/cli.hpp"
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
    switch (o.result) {
    case Outcome::Result::already_installed:
        std::printf("%s %s is already installed; nothing to do\n", o.name.c_str(), o.to_version.c_str());
        break;
    case Outcome::Result::rolled_back:
        std::printf("rolled back %s %s%s\n", o.name.c_str(), o.from_version.c_str(),
                    o.to_version.empty() ? " (nothing installed now)" : (" to " + o.to_version).c_str());
        break;
    case Outcome::Result::discarded:
        std::printf("discarded interrupted run %lld of %s %s\n", static_cast<long long>(o.run), o.name.c_str(),
                    o.to_version.c_str());
        break;
    case Outcome::Result::applied:
    case Outcome::Result::resumed:
        std::printf("%s %s %s%s (run %lld)\n", result_name(o.result).c_str(), o.name.c_str(), o.to_version.c_str(),
                    o.from_version.empty() ? "" : (" (was " + o.from_version + ")").c_str(),
                    static_cast<long long>(o.run));
        break;
    }
    for (const auto& n : o.notes) {
        std::printf("  note: %s\n", n.c_str());
    }
    return 0;
}

} // namespace

void setup_apply(CLI::App& app) {
    auto opts = std::make_shared<ApplyOptions>();
    auto json = std::make_shared<bool>(false);
    CLI::App* cmd = app.add_subcommand("apply", "Verify a bundle and upgrade this node, rolling back on failure");
    cmd->add_option("bundle", opts->bundle, "The .ferry bundle")->required();
    cmd->add_option("--trust", opts->trust, "Trust store (default " + std::string(k_default_trust_store) + " below --root, the node's own)");
    add_site_options(cmd, opts->site);
    cmd->add_flag("--allow-downgrade", opts->policy.allow_downgrade, "Accept an older version, sequence or signing time");
    cmd->add_flag("--allow-major", opts->policy.allow_major, "Accept a major version upgrade");
    cmd->add_flag("--ack-breaking", opts->policy.ack_breaking, "Acknowledge the bundle's declared breaking changes");
    cmd->add_flag("--json", *json, "Print the outcome as JSON");
    auto cluster = std::make_shared<InventoryPlanArgs>();
    auto resume_paused = std::make_shared<bool>(false);
    cmd->add_option("--inventory", cluster->inventory,
                    "Roll the upgrade across the inventory's nodes: stage on all, canaries, batches, the leader last");
    cmd->add_flag("--continue", *resume_paused, "With --inventory: go on past the pause after the canaries");
    cmd->add_option("--rollout-dir", cluster->rollout_dir,
                    "With --inventory: the coordinator's journal and audit log (default: beside the inventory, NAME.rollout)");
    CLI::Option* trust_given = cmd->get_option("--trust");
    set_action(*cmd, [opts, json, cluster, resume_paused, trust_given] {
        if (!cluster->inventory.empty()) {
            cluster->bundle = opts->bundle;
            cluster->trust = opts->trust;
            cluster->json = *json;
            cluster->node_args = node_args(trust_given->count() > 0 ? opts->trust : std::filesystem::path(), opts->policy);
            return apply_inventory(*cluster, *resume_paused, !*json);
        }
        return print_outcome(apply_bundle(*opts), *json);
    });

    auto site = std::make_shared<SiteOptions>();
    CLI::App* res = app.add_subcommand("resume", "Finish an interrupted run");
    add_site_options(res, *site);
    res->add_flag("--json", *json, "Print the outcome as JSON");
    set_action(*res, [site, json] { return print_outcome(resume(*site), *json); });

    auto back_opts = std::make_shared<RollbackOptions>();
    auto back_run = std::make_shared<std::int64_t>(0);
    CLI::App* back = app.add_subcommand("rollback", "Undo an interrupted run, or the committed run named by --run");
    add_site_options(back, back_opts->site);
    back->add_option("--run", *back_run,
                     "Undo this committed run (the last applied; see `history`), after keeping a copy of what it "
                     "changes back")
        ->check(CLI::PositiveNumber);
    back->add_flag("--json", *json, "Print the outcome as JSON");
    set_action(*back, [back_opts, back_run, json] {
        if (*back_run > 0) {
            back_opts->run = *back_run;
        }
        return print_outcome(rollback(*back_opts), *json);
    });
}

void setup_prune(CLI::App& app) {
    auto opts = std::make_shared<PruneOptions>();
    auto json = std::make_shared<bool>(false);
    CLI::App* cmd = app.add_subcommand("prune", "Remove the backups of old and failed runs, keeping the newest");
    add_site_options(cmd, opts->site);
    cmd->add_option("--keep", opts->keep, "How many run backups (and copies kept before rollbacks) to keep (default 1)");
    cmd->add_flag("--staged", opts->staged, "Also remove every staged bundle");
    cmd->add_flag("--json", *json, "Print the outcome as JSON");
    set_action(*cmd, [opts, json] {
        const PruneResult r = prune(*opts);
        if (*json) {
            JsonWriter j;
            j.begin_object().field("result", "pruned").field("bytes", r.bytes).key("removed").begin_array();
            for (const auto& d : r.removed) {
                j.value(d);
            }
            j.end_array().end_object();
            std::fputs(j.str().c_str(), stdout);
            return 0;
        }
        for (const auto& d : r.removed) {
            std::printf("removed %s\n", d.c_str());
        }
        std::printf("pruned %zu folder(s), %llu MiB\n", r.removed.size(), static_cast<unsigned long long>(r.bytes >> 20));
        return 0;
    });
}

void setup_stage(CLI::App& app) {
    auto opts = std::make_shared<StageOptions>();
    auto flags = std::make_shared<bool>(false); // json
    CLI::App* cmd = app.add_subcommand("stage", "Verify a bundle and copy it to this node ahead of apply, resumably");
    cmd->add_option("bundle", opts->bundle,
                    "The .ferry bundle, or any part of a split one or a folder of parts: every part of it found there is staged")
        ->required();
    cmd->add_option("--trust", opts->trust, "Trust store (default " + std::string(k_default_trust_store) + " below --root, the node's own)");
    add_site_options(cmd, opts->site);
    cmd->add_flag("--allow-downgrade", opts->policy.allow_downgrade, "As apply would be given it");
    cmd->add_flag("--allow-major", opts->policy.allow_major, "As apply would be given it");
    cmd->add_flag("--ack-breaking", opts->policy.ack_breaking, "As apply would be given it");
    cmd->add_flag("--json", *flags, "Print the outcome as JSON");
    set_action(*cmd, [opts, flags] {
        opts->site.progress = !*flags;
        const StageOutcome o = stage_bundle(*opts);
        if (*flags) {
            JsonWriter j;
            j.begin_object().field("result", result_name(o.result)).field("bundle", o.name).field("version", o.version)
                .field("manifest_sha256", o.manifest_sha256).field("copy", o.copy.string()).field("chunks", o.chunks)
                .field("resumed_at_chunk", o.resumed_at).field("media_bytes", o.media_bytes);
            j.key("parts_staged").begin_array();
            for (const unsigned n : o.parts_now) {
                j.value(static_cast<std::uint64_t>(n));
            }
            j.end_array().key("parts_already_staged").begin_array();
            for (const unsigned n : o.parts_had) {
                j.value(static_cast<std::uint64_t>(n));
            }
            j.end_array().field("missing", o.missing).end_object();
            std::fputs(j.str().c_str(), stdout);
            return 0;
        }
        std::string parts;
        for (const unsigned n : o.parts_now) {
            parts += (parts.empty() ? "" : ", ") + std::to_string(n);
        }
        switch (o.result) {
        case StageOutcome::Result::partial:
            std::printf("staged %s of %s %s (%llu MiB read from the media); still missing: %s\n"
                        "stage the missing parts as they arrive: ferry-applier stage /path/to/PART\n",
                        parts.empty() ? "no new part" : ("part(s) " + parts).c_str(), o.name.c_str(), o.version.c_str(),
                        static_cast<unsigned long long>(o.media_bytes >> 20), o.missing.c_str());
            break;
        case StageOutcome::Result::already_installed:
            std::printf("%s %s is already installed; nothing to stage\n", o.name.c_str(), o.version.c_str());
            break;
        case StageOutcome::Result::already_staged:
            std::printf("%s %s is already staged in %s\n", o.name.c_str(), o.version.c_str(), o.copy.c_str());
            break;
        case StageOutcome::Result::staged:
            std::printf("staged %s %s in %s (%llu chunk(s)%s; %llu MiB read from the media)\n", o.name.c_str(),
                        o.version.c_str(), o.copy.c_str(), static_cast<unsigned long long>(o.chunks),
                        o.resumed_at > 0 ? (", resumed after " + std::to_string(o.resumed_at) + " intact").c_str() : "",
                        static_cast<unsigned long long>(o.media_bytes >> 20));
            break;
        }
        return 0;
    });
}

} // namespace ferry::applier
