#include "applier/commands.hpp"
#include "applier/node/node_status.hpp"
#include "applier/node/probe.hpp"
#include "applier/node/receipt.hpp"
#include "applier/rollout/journal.hpp"
#include "applier/state/state.hpp"

#include "core/cli/cli.hpp"
#include "core/defaults.hpp"
#include "core/error.hpp"
#include "core/json.hpp"

#include <cstdio>
#include <memory>

namespace ferry::applier {

namespace {

struct StateArgs {
    std::filesystem::path state_dir = k_default_state_dir;
    bool json = false;
};

CLI::App* state_command(CLI::App& parent, const char* name, const char* help, const std::shared_ptr<StateArgs>& args) {
    CLI::App* cmd = parent.add_subcommand(name, help);
    cmd->add_option("--state-dir", args->state_dir, "The applier's state folder (default " + std::string(k_default_state_dir) + ")");
    cmd->add_flag("--json", args->json, "Print JSON");
    return cmd;
}

// Opens the state only if it exists: reading commands never create it.
StateDb open_existing(const std::filesystem::path& dir) {
    const std::filesystem::path database = StateLayout(dir).database();
    if (!std::filesystem::exists(database)) {
        throw Error(ErrorKind::input, database.string() + ": no state database (nothing was ever applied here)");
    }
    return StateDb(dir);
}

void run_json(JsonWriter& j, const RunInfo& r) {
    j.begin_object().field("run", r.id).field("action", r.action).field("bundle", r.name).field("version", r.version)
        .field("from", r.from_version).field("sequence", r.sequence).field("state", state_name(r.state)).field("started", r.started)
        .field("ended", r.ended).field("error", r.error).end_object();
}

void print_status_json(const NodeStatus& status, int code, const std::optional<NodeProbe>& probe) {
    JsonWriter j;
    j.begin_object().field("result", "reported").field("node", node_state_name(status.state)).field("exit_code", code);
    j.key("installed");
    if (const auto& installed = status.installed) {
        j.begin_object().field("bundle", installed->name).field("version", installed->version)
            .field("sequence", installed->sequence).field("installed_at", installed->installed_at).end_object();
    } else {
        j.null();
    }
    j.key("in_progress");
    if (status.state == NodeState::in_progress) {
        j.begin_object().key("pid");
        if (status.holder_pid > 0) {
            j.value(static_cast<std::int64_t>(status.holder_pid));
        } else {
            j.null();
        }
        j.end_object();
    } else {
        j.null();
    }
    for (const auto& [key, state] : {std::pair{"interrupted", NodeState::interrupted}, std::pair{"failed", NodeState::failed}}) {
        j.key(key);
        if (status.state == state) {
            run_json(j, *status.run);
        } else {
            j.null();
        }
    }
    j.key("journal").begin_array();
    for (const auto& e : status.journal) {
        j.begin_object().field("at", e.at).field("step", e.step).field("phase", e.phase).field("detail", e.detail)
            .end_object();
    }
    j.end_array();
    if (status.state == NodeState::failed) {
        j.field("backup", status.backup.string());
    }
    j.key("staged").begin_array();
    for (std::size_t i = 0; i < status.staged.size(); ++i) {
        const auto& b = status.staged[i];
        j.begin_object().field("bundle", b.name).field("version", b.version).field("manifest_sha256", b.manifest_sha256)
            .field("source", b.source).field("state", b.state).field("chunks", b.chunks)
            .field("chunks_done", b.chunks_done).field("missing", status.staged_missing[i]).field("updated", b.updated).end_object();
    }
    j.end_array();
    if (probe) {
        j.key("probe").begin_object().field("role", probe->role).field("healthy", probe->healthy).field("synced", probe->synced)
            .field("detail", probe->detail).end_object();
    }
    j.end_object();
    std::fputs(j.str().c_str(), stdout);
}

void print_status_text(const NodeStatus& status, const std::filesystem::path& state_dir) {
    if (const auto& installed = status.installed) {
        std::printf("installed: %s %s (sequence %lld, since %s)\n", installed->name.c_str(), installed->version.c_str(),
                    static_cast<long long>(installed->sequence), installed->installed_at.c_str());
    } else {
        std::printf("nothing installed\n");
    }
    for (std::size_t i = 0; i < status.staged.size(); ++i) {
        const auto& b = status.staged[i];
        const std::string& missing = status.staged_missing[i];
        std::printf("staged: %s %s, %s (%lld of %lld chunks), from %s\n", b.name.c_str(), b.version.c_str(),
                    b.state == "verified" ? "verified, ready to apply"
                    : missing.empty()     ? "incomplete: stage it again to continue"
                                          : ("incomplete: still missing " + missing + "; stage them as they arrive").c_str(),
                    static_cast<long long>(b.chunks_done), static_cast<long long>(b.chunks), b.source.c_str());
    }
    switch (status.state) {
    case NodeState::fresh:
    case NodeState::installed:
        break;
    case NodeState::in_progress:
        std::printf("in progress (pid %s): another ferry-applier is working on %s\n"
                    "  wait for it to finish, then run `ferry-applier status` again\n",
                    status.holder_pid > 0 ? std::to_string(status.holder_pid).c_str() : "unknown", state_dir.c_str());
        break;
    case NodeState::interrupted: {
        const RunInfo& r = *status.run;
        std::printf("INTERRUPTED: run %lld, %s of %s %s, started %s\n"
                    "  finish it with `ferry-applier resume`, or undo it with `ferry-applier rollback`\n",
                    static_cast<long long>(r.id), r.action.c_str(), r.name.c_str(), r.version.c_str(), r.started.c_str());
        for (const auto& e : status.journal) {
            std::printf("  %s %-12s %s %s\n", e.at.c_str(), e.step.c_str(), e.phase.c_str(), e.detail.c_str());
        }
        break;
    }
    case NodeState::failed: {
        const RunInfo& r = *status.run;
        std::printf("FAILED: run %lld, %s of %s %s, could not be rolled back: %s\n"
                    "  the node may be between versions; retry with `ferry-applier rollback`, or restore by hand\n"
                    "  from %s\n",
                    static_cast<long long>(r.id), r.action.c_str(), r.name.c_str(), r.version.c_str(), r.error.c_str(),
                    status.backup.c_str());
        break;
    }
    }
}

} // namespace

void setup_status(CLI::App& app) {
    auto args = std::make_shared<StateArgs>();
    struct Probe {
        bool on = false;
        std::filesystem::path root = "/";
        std::filesystem::path inventory;
        std::filesystem::path rollout_dir;
    };
    auto probe = std::make_shared<Probe>();
    CLI::App* cmd = state_command(app, "status", "Show what is installed and any run in progress, interrupted or failed", args);
    cmd->add_flag("--probe", probe->on,
                  "Also ask the installed release its cluster role and run its health checks once (for a rollout)");
    cmd->add_option("--root", probe->root, "With --probe: the install root (default /)")->check(CLI::ExistingDirectory);
    cmd->add_option("--inventory", probe->inventory,
                    "Show every node of the inventory (version, role, health) and the latest rollout");
    cmd->add_option("--rollout-dir", probe->rollout_dir,
                    "With --inventory: the coordinator's journal (default: beside the inventory, NAME.rollout)");
    set_action(*cmd, [args, probe] {
        if (!probe->inventory.empty()) {
            return status_inventory(probe->inventory, probe->rollout_dir, args->json);
        }
        const NodeStatus status = read_node_status(args->state_dir);
        const int code = exit_code(status.state);
        std::optional<NodeProbe> probed;
        if (probe->on) {
            probed = probe_node(probe->root, args->state_dir);
        }
        if (args->json) {
            print_status_json(status, code, probed);
            return code;
        }
        print_status_text(status, args->state_dir);
        if (probed) {
            std::printf("probe: %s%s%s\n", probed->healthy ? "healthy" : "NOT healthy",
                        probed->role.empty() ? "" : (", role " + probed->role).c_str(),
                        probed->detail.empty() ? "" : ("; " + probed->detail).c_str());
        }
        return code;
    });
}

void setup_history(CLI::App& app) {
    auto args = std::make_shared<StateArgs>();
    set_action(*state_command(app, "history", "List every run: applied, failed, rolled back", args), [args] {
        StateDb state = open_existing(args->state_dir);
        const auto runs = state.runs();
        if (args->json) {
            JsonWriter j;
            j.begin_object().field("result", "listed").key("runs").begin_array();
            for (const auto& r : runs) {
                run_json(j, r);
            }
            j.end_array().end_object();
            std::fputs(j.str().c_str(), stdout);
            return 0;
        }
        for (const auto& r : runs) {
            std::printf("%4lld  %s  %-11s %s %s%s%s\n", static_cast<long long>(r.id), r.started.c_str(), state_name(r.state).c_str(),
                        r.name.c_str(), r.version.c_str(), r.from_version.empty() ? "" : (" (from " + r.from_version + ")").c_str(),
                        r.error.empty() ? "" : (": " + r.error).c_str());
        }
        return 0;
    });
}

namespace {

// The audit records of the node's state folder, or of the coordinator's journal in ROLLOUT_DIR
// when it is given; WHERE names the database they were read from.
std::vector<AuditRecord> audit_log(const StateArgs& args, const std::filesystem::path& rollout_dir, std::string& where) {
    if (!rollout_dir.empty()) {
        where = (rollout_dir / "rollout.db").string();
        if (!std::filesystem::exists(where)) {
            throw Error(ErrorKind::input, rollout_dir.string() + ": holds no rollout journal (rollout.db)",
                        "give the rollout folder apply --inventory used (default: beside the inventory, NAME.rollout)");
        }
        return rollout::rollout_audit_records(rollout_dir);
    }
    where = StateLayout(args.state_dir).database().string();
    StateDb state = open_existing(args.state_dir);
    return state.audit_records();
}

} // namespace

void setup_audit(CLI::App& app) {
    CLI::App* audit = app.add_subcommand("audit", "Check or export the hash-chained audit log");
    audit->require_subcommand(1);
    auto args = std::make_shared<StateArgs>();
    auto verify_rollout = std::make_shared<std::filesystem::path>();
    CLI::App* verify = state_command(*audit, "verify", "Check that no audit record was changed, deleted or reordered", args);
    verify->add_option("--rollout-dir", *verify_rollout, "Check the rollout coordinator's audit log in this folder instead");
    set_action(*verify, [args, verify_rollout] {
        std::string where;
        const auto records = audit_log(*args, *verify_rollout, where);
        const std::string problem = check_audit_chain(records);
        if (!problem.empty()) {
            throw Error(ErrorKind::verification, where + ": audit log: " + problem);
        }
        // The coordinator signs no receipts; a node's receipts say how far its log reached.
        const auto receipts =
            verify_rollout->empty() ? read_receipts(StateLayout(args->state_dir)) : std::vector<Receipt>{};
        if (const std::string lost = check_receipts(records, receipts); !lost.empty()) {
            throw Error(ErrorKind::verification, where + ": audit log: " + lost,
                        "the receipts in " + StateLayout(args->state_dir).receipts().string() +
                            " are signed by the node's key; restore the state database from a backup, and find out "
                            "who removed the records");
        }
        const std::string last = records.empty() ? "" : records.back().hash;
        const std::int64_t covered = receipts.empty() ? 0 : receipts.back().records;
        if (args->json) {
            JsonWriter j;
            j.begin_object().field("result", "intact").field("records", static_cast<std::uint64_t>(records.size()))
                .field("last_hash", last).field("receipts", static_cast<std::uint64_t>(receipts.size()))
                .field("covered", covered).end_object();
            std::fputs(j.str().c_str(), stdout);
            return 0;
        }
        std::printf("audit log intact: %zu record(s), last hash %s\n", records.size(), last.empty() ? "-" : last.c_str());
        if (!receipts.empty()) {
            std::printf("receipts: %zu, signed by the node's key; the latest, %s, covers records 1 to %lld\n",
                        receipts.size(), receipts.back().file.filename().c_str(), static_cast<long long>(covered));
        }
        if (verify_rollout->empty() && covered < static_cast<std::int64_t>(records.size())) {
            std::printf("no receipt vouches for records %lld to %zu yet%s\n", static_cast<long long>(covered + 1),
                        records.size(), receipts.empty() ? " (the node has signed none)" : ": they follow the latest one");
        }
        return 0;
    });
    auto exp = std::make_shared<StateArgs>();
    auto export_rollout = std::make_shared<std::filesystem::path>();
    auto export_dir = std::make_shared<std::filesystem::path>();
    CLI::App* ex = state_command(
        *audit, "export", "Print the audit log as JSON, or write it with the receipts and the node's public key to a folder", exp);
    ex->add_option("--rollout-dir", *export_rollout, "Export the rollout coordinator's audit log in this folder instead");
    ex->add_option("--out-dir", *export_dir,
                   "Write audit.json, receipts/ and node.pub into this new (or empty) folder instead of printing the log");
    set_action(*ex, [exp, export_rollout, export_dir] {
        if (!export_dir->empty()) {
            if (!export_rollout->empty()) {
                throw Error(ErrorKind::usage, "--out-dir writes a node's log and receipts; the coordinator has no receipts",
                            "print the coordinator's log with `audit export --rollout-dir DIR`");
            }
            StateDb state = open_existing(exp->state_dir);
            const AuditExport out = export_audit(state, *export_dir);
            if (exp->json) {
                JsonWriter j;
                j.begin_object().field("result", "exported").field("folder", out.dir.string())
                    .field("records", static_cast<std::uint64_t>(out.records)).field("chain_intact", out.chain_intact)
                    .field("receipts", static_cast<std::uint64_t>(out.receipts)).field("node_public_key", out.public_key)
                    .end_object();
                std::fputs(j.str().c_str(), stdout);
                return 0;
            }
            std::printf("exported %zu audit record(s), %zu receipt(s)%s to %s\n", out.records, out.receipts,
                        out.public_key ? " and the node's public key" : "", out.dir.c_str());
            return 0;
        }
        std::string where;
        std::fputs(audit_log_json(audit_log(*exp, *export_rollout, where)).c_str(), stdout);
        return 0;
    });
}

} // namespace ferry::applier
