#include "applier/commands.hpp"
#include "applier/state/state.hpp"

#include "core/cli.hpp"
#include "core/error.hpp"
#include "core/json.hpp"

#include <cstdio>
#include <memory>

namespace ferry::applier {

namespace {

struct StateArgs {
    std::filesystem::path state_dir = "/var/lib/ferry";
    bool json = false;
};

CLI::App* state_command(CLI::App& parent, const char* name, const char* help, const std::shared_ptr<StateArgs>& args) {
    CLI::App* cmd = parent.add_subcommand(name, help);
    cmd->add_option("--state-dir", args->state_dir, "The applier's state folder (default /var/lib/ferry)");
    cmd->add_flag("--json", args->json, "Print JSON");
    return cmd;
}

// Opens the state only if it exists: reading commands never create it.
StateDb open_existing(const std::filesystem::path& dir) {
    if (!std::filesystem::exists(dir / "state.db")) {
        throw Error(ErrorKind::input, (dir / "state.db").string() + ": no state database (nothing was ever applied here)");
    }
    return StateDb(dir);
}

void run_json(JsonWriter& j, const RunInfo& r) {
    j.begin_object().field("run", r.id).field("action", r.action).field("bundle", r.name).field("version", r.version)
        .field("from", r.from_version).field("sequence", r.sequence).field("state", r.state).field("started", r.started)
        .field("ended", r.ended).field("error", r.error).end_object();
}

} // namespace

void setup_status(CLI::App& app) {
    auto args = std::make_shared<StateArgs>();
    set_action(*state_command(app, "status", "Show what is installed and any interrupted run", args), [args] {
        StateDb state = open_existing(args->state_dir);
        const auto installed = state.installed();
        const auto interrupted = state.interrupted_run();
        if (args->json) {
            JsonWriter j;
            j.begin_object();
            if (installed) {
                j.key("installed").begin_object().field("bundle", installed->name).field("version", installed->version)
                    .field("sequence", installed->sequence).field("installed_at", installed->installed_at).end_object();
            } else {
                j.key("installed").null();
            }
            j.key("interrupted");
            if (interrupted) {
                run_json(j, *interrupted);
            } else {
                j.null();
            }
            j.end_object();
            std::fputs(j.str().c_str(), stdout);
            return 0;
        }
        if (installed) {
            std::printf("installed: %s %s (sequence %lld, since %s)\n", installed->name.c_str(), installed->version.c_str(),
                        static_cast<long long>(installed->sequence), installed->installed_at.c_str());
        } else {
            std::printf("installed: nothing\n");
        }
        const auto runs = state.runs();
        if (!interrupted && !runs.empty() && runs.back().state == "failed" &&
            std::filesystem::exists(args->state_dir / "runs" / std::to_string(runs.back().id) / "backup")) {
            const RunInfo& r = runs.back();
            std::printf("FAILED: run %lld, %s of %s %s, could not be rolled back: %s\n"
                        "  the node may be between versions; retry with `ferry-applier rollback`, or restore by hand\n"
                        "  from %s\n",
                        static_cast<long long>(r.id), r.action.c_str(), r.name.c_str(), r.version.c_str(),
                        r.error.c_str(), (args->state_dir / "runs" / std::to_string(r.id) / "backup").c_str());
        }
        if (interrupted) {
            std::printf("INTERRUPTED: run %lld, %s of %s %s, started %s\n"
                        "  finish it with `ferry-applier resume`, or undo it with `ferry-applier rollback`\n",
                        static_cast<long long>(interrupted->id), interrupted->action.c_str(), interrupted->name.c_str(),
                        interrupted->version.c_str(), interrupted->started.c_str());
            for (const auto& e : state.journal_of(interrupted->id)) {
                std::printf("  %s %-12s %s %s\n", e.at.c_str(), e.step.c_str(), e.phase.c_str(), e.detail.c_str());
            }
        }
        return 0;
    });
}

void setup_history(CLI::App& app) {
    auto args = std::make_shared<StateArgs>();
    set_action(*state_command(app, "history", "List every run: applied, failed, rolled back", args), [args] {
        StateDb state = open_existing(args->state_dir);
        const auto runs = state.runs();
        if (args->json) {
            JsonWriter j;
            j.begin_array();
            for (const auto& r : runs) {
                run_json(j, r);
            }
            j.end_array();
            std::fputs(j.str().c_str(), stdout);
            return 0;
        }
        for (const auto& r : runs) {
            std::printf("%4lld  %s  %-11s %s %s%s%s\n", static_cast<long long>(r.id), r.started.c_str(), r.state.c_str(),
                        r.name.c_str(), r.version.c_str(), r.from_version.empty() ? "" : (" (from " + r.from_version + ")").c_str(),
                        r.error.empty() ? "" : (": " + r.error).c_str());
        }
        return 0;
    });
}

void setup_audit(CLI::App& app) {
    CLI::App* audit = app.add_subcommand("audit", "Check or export the hash-chained audit log");
    audit->require_subcommand(1);
    auto args = std::make_shared<StateArgs>();
    set_action(*state_command(*audit, "verify", "Check that no audit record was changed, deleted or reordered", args), [args] {
        StateDb state = open_existing(args->state_dir);
        const auto records = state.audit_records();
        const std::string problem = check_audit_chain(records);
        if (!problem.empty()) {
            throw Error(ErrorKind::verification, (args->state_dir / "state.db").string() + ": audit log: " + problem);
        }
        std::printf("audit log intact: %zu record(s), last hash %s\n", records.size(),
                    records.empty() ? "-" : records.back().hash.c_str());
        return 0;
    });
    auto exp = std::make_shared<StateArgs>();
    CLI::App* ex = state_command(*audit, "export", "Write the audit log as JSON", exp);
    set_action(*ex, [exp] {
        StateDb state = open_existing(exp->state_dir);
        const auto records = state.audit_records();
        JsonWriter j;
        j.begin_object().field("chain_intact", check_audit_chain(records).empty()).key("records").begin_array();
        for (const auto& r : records) {
            j.begin_object().field("seq", r.seq).field("at", r.at).field("action", r.action).field("detail", r.detail)
                .field("prev", r.prev).field("hash", r.hash).end_object();
        }
        j.end_array().end_object();
        std::fputs(j.str().c_str(), stdout);
        return 0;
    });
}

} // namespace ferry::applier
