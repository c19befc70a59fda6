// The cluster's side of `plan --inventory`: render what the coordinator found and would do.

#include "applier/commands.hpp"
#include "applier/node/node_trust.hpp"
#include "applier/node/probe.hpp"
#include "applier/node/site.hpp"
#include "applier/rollout/cluster_plan.hpp"
#include "applier/rollout/journal.hpp"
#include "applier/rollout/rollout.hpp"
#include "applier/rollout/ssh_transport.hpp"

#include "core/build_info.hpp"
#include "core/cli/cli.hpp"
#include "core/defaults.hpp"

#include "core/console.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "core/sha256.hpp"
#include "keys/bundle.hpp"

#include <cstdio>
#include <optional>
#include <set>

namespace ferry::applier {

namespace {

void print_cluster_json(const schema::Inventory& inv, const rollout::ClusterPlan& p) {
    JsonWriter j;
    j.begin_object().field("result", p.refusals.empty() ? "ok" : "refused").field("cluster", inv.cluster)
        .field("bundle", p.bundle).field("to", p.version).field("peers", p.peers)
        .field("order", schema::order_name(inv.rollout.order))
        .field("max_unavailable", inv.rollout.max_unavailable.str());
    j.key("nodes").begin_array();
    for (const auto& n : p.nodes) {
        j.begin_object().field("name", n.name).field("node", n.node).field("version", n.version)
            .field("role", rollout::role_name(n.role)).field("healthy", n.healthy).field("plan", n.plan);
        j.key("problems").begin_array();
        for (const auto& problem : n.problems) {
            j.value(problem);
        }
        j.end_array().end_object();
    }
    j.end_array();
    j.key("batches").begin_array();
    if (p.schedule) {
        for (const auto& b : p.schedule->batches) {
            j.begin_object().field("kind", rollout::kind_name(b.kind)).field("reason", b.reason).key("nodes").begin_array();
            for (const auto& n : b.nodes) {
                j.value(n);
            }
            j.end_array().end_object();
        }
    }
    j.end_array().key("skipped").begin_array();
    if (p.schedule) {
        for (const auto& n : p.schedule->skipped) {
            j.value(n);
        }
    }
    j.end_array().key("refusals").begin_array();
    for (const auto& r : p.refusals) {
        j.value(r);
    }
    j.end_array().end_object();
    std::fputs(j.str().c_str(), stdout);
}

void print_cluster_text(const schema::Inventory& inv, const rollout::ClusterPlan& p) {
    std::printf("rolling plan: cluster %s, %s %s on %zu node(s); order %s, max_unavailable %s\n", inv.cluster.c_str(),
                p.bundle.c_str(), p.version.c_str(), inv.nodes.size(), schema::order_name(inv.rollout.order).c_str(),
                inv.rollout.max_unavailable.str().c_str());
    std::printf("\nnodes:\n");
    for (const auto& n : p.nodes) {
        std::printf("  %-16s %-10s %-8s %-9s plan: %s\n", n.name.c_str(), n.version.empty() ? "-" : n.version.c_str(),
                    rollout::role_name(n.role).c_str(), n.healthy ? "healthy" : "UNHEALTHY",
                    n.plan.empty() ? "-" : n.plan.c_str());
    }
    if (p.schedule) {
        std::printf("\nleader: %s\n", p.schedule->leader.empty() ? "none found (no cluster.role, or no node says it leads)"
                                                              : p.schedule->leader.c_str());
        std::printf("\norder (at most %llu node(s) out at once):\n",
                    static_cast<unsigned long long>(p.schedule->allowed));
        int i = 0;
        for (const auto& b : p.schedule->batches) {
            std::printf("  %d. %s\n", ++i, b.reason.c_str());
        }
        for (const auto& n : p.schedule->skipped) {
            std::printf("  -  %s: already on %s, skipped\n", n.c_str(), p.version.c_str());
        }
    }
    std::printf("\nversion skew: %s\n", p.peers.empty() ? "the bundle declares no peers range"
                                                        : ("the new version interoperates with " + p.peers).c_str());
    if (p.refusals.empty()) {
        std::printf("\npolicy: ok, the rollout may proceed\n");
    } else {
        std::printf("\npolicy: the rollout would be REFUSED before any service stops:\n");
        for (const auto& r : p.refusals) {
            std::printf("  - %s\n", r.c_str());
        }
    }
}

// The bundle's authenticated, unexpired head: the coordinator checks it itself; every node
// verifies the bundle in full.
keys::BundleInfo coordinator_bundle(const InventoryPlanArgs& args, const schema::Inventory& inv) {
    const keys::BundleLocation where = keys::locate_bundle(args.bundle);
    if (where.split) {
        for (const auto& n : inv.nodes) {
            if (n.transport == schema::Transport::ssh) {
                throw Error(ErrorKind::usage,
                            args.bundle.string() + ": the bundle is split in parts, and node " + n.name +
                                " is reached over ssh, which sends it a whole bundle",
                            "join the parts first (cat NAME.ferry.0* > NAME.ferry, then verify it), or stage "
                            "the parts on each node from its own media");
            }
        }
    }
    const keys::TrustStore trust = load_site_trust(args.trust, "/");
    keys::BundleInfo info = keys::inspect_bundle(args.bundle, &trust, false);
    if (info.manifest.expires <= now()) {
        throw Error(ErrorKind::policy, args.bundle.string() + ": bundle " + info.manifest.name + " " +
                                           info.manifest.version.str() + " expired at " +
                                           format_time(info.manifest.expires));
    }
    return info;
}

std::filesystem::path rollout_dir_of(const std::filesystem::path& inventory, const std::filesystem::path& given) {
    return given.empty() ? rollout::default_rollout_dir(inventory) : std::filesystem::absolute(given);
}

void print_after(const std::vector<rollout::NodeReport>& after, const std::vector<rollout::NodeOutcome>& outcomes) {
    std::printf("\ncluster:\n");
    for (std::size_t i = 0; i < after.size(); ++i) {
        const auto& n = after[i];
        const auto& o = outcomes[i];
        std::printf("  %-16s %-10s %-8s %-9s %s%s\n", n.name.c_str(), n.version.empty() ? "-" : n.version.c_str(),
                    rollout::role_name(n.role).c_str(), n.healthy ? "healthy" : "UNHEALTHY",
                    rollout::result_name(o.result).c_str(), o.detail.empty() ? "" : (": " + o.detail).c_str());
    }
}

} // namespace

std::vector<std::string> node_args(const std::filesystem::path& trust, const PolicyOptions& policy) {
    std::vector<std::string> args;
    if (!trust.empty()) {
        args = {"--trust", std::filesystem::absolute(trust).string()};
    }
    for (const auto& [on, flag] : {std::pair{policy.allow_downgrade, "--allow-downgrade"},
                                   std::pair{policy.allow_major, "--allow-major"},
                                   std::pair{policy.ack_breaking, "--ack-breaking"}}) {
        if (on) {
            args.emplace_back(flag);
        }
    }
    return args;
}

int apply_inventory(const InventoryPlanArgs& args, bool continue_after_pause, bool progress) {
    const schema::Inventory inv = schema::load_inventory(args.inventory);
    const keys::BundleInfo info = coordinator_bundle(args, inv);
    const schema::Manifest& m = info.manifest;
    rollout::Journal journal(rollout_dir_of(args.inventory, args.rollout_dir));
    rollout::SiteTransport transport(rollout::own_executable(), std::string(build_version()));
    rollout::RolloutRequest request;
    request.plan = {std::filesystem::absolute(args.bundle), to_hex(sha256(info.head.manifest)), args.node_args};
    request.continue_after_pause = continue_after_pause;
    // On a terminal, each node's line redrawn below the rollout's lines; otherwise the lines alone.
    std::optional<rollout::NodeBoard> board;
    if (progress && rollout::NodeBoard::wanted()) {
        board.emplace();
    }
    const auto say = [progress, &board](const std::string& line) {
        if (board) {
            board->say(line);
        } else if (progress) {
            ferry::say(line);
        }
    };
    const auto show = [&board](const rollout::NodeView& view) {
        if (board) {
            board->show(view);
        }
    };
    set_interrupt_note("ferry-applier: interrupted: the rollout is recorded in " + journal.dir().string() +
                       "; run the same command again to carry it on (a node being upgraded finishes on its own)");
    const rollout::RolloutReport r = rollout::run_rollout(inv, m, request, transport, journal, say, show);
    set_interrupt_note({});
    const int code = rollout::exit_code(r.result);
    if (args.json) {
        JsonWriter j;
        j.begin_object().field("result", rollout::result_name(r.result)).field("exit_code", code)
            .field("cluster", inv.cluster).field("bundle", m.name).field("to", m.version.str())
            .field("message", r.message).field("failures", r.failures).field("rollout", r.rollout)
            .field("resumed", r.resumed).field("rollout_dir", journal.dir().string());
        j.key("nodes").begin_array();
        for (std::size_t i = 0; i < r.after.size(); ++i) {
            j.begin_object().field("name", r.after[i].name).field("outcome", rollout::result_name(r.nodes[i].result))
                .field("detail", r.nodes[i].detail).field("version", r.after[i].version)
                .field("role", rollout::role_name(r.after[i].role)).field("healthy", r.after[i].healthy).end_object();
        }
        j.end_array().key("refusals").begin_array();
        for (const auto& refusal : r.plan.refusals) {
            j.value(refusal);
        }
        j.end_array().end_object();
        std::fputs(j.str().c_str(), stdout);
        return code;
    }
    std::printf("rollout %lld of %s %s over cluster %s: %s%s\n", static_cast<long long>(r.rollout), m.name.c_str(),
                m.version.str().c_str(), inv.cluster.c_str(), rollout::result_name(r.result).c_str(),
                r.message.empty() ? "" : (": " + r.message).c_str());
    for (const auto& refusal : r.plan.refusals) {
        std::printf("  - %s\n", refusal.c_str());
    }
    print_after(r.after, r.nodes);
    return code;
}

namespace {

// The latest rollout in a sentence: "rollout 2 of greeter 2.0.0 (started ...): paused: ...".
// RUNNING: the pid of the coordinator working on it, 0 if it wrote none, -1 when none is.
std::string rollout_line(const rollout::RolloutRecord& r, std::int64_t running) {
    std::string state;
    if (running >= 0) {
        state = "running (coordinator pid " + std::to_string(running) + ")";
    } else if (r.result.empty()) {
        state = "interrupted (its coordinator stopped at: " + (r.last_step.empty() ? "the start" : r.last_step) +
                "); run the same apply again to carry it on";
    } else {
        state = (r.open() ? "open, " : "") + r.result + (r.message.empty() ? "" : ": " + r.message);
    }
    return "rollout " + std::to_string(r.id) + " of " + r.bundle + " " + r.version + " (started " + r.started +
           (r.failures > 0 ? ", " + std::to_string(r.failures) + " failure(s)" : "") + "): " + state;
}

} // namespace

int status_inventory(const std::filesystem::path& path, const std::filesystem::path& rollout_dir, bool json) {
    const schema::Inventory inv = schema::load_inventory(path);
    const std::filesystem::path dir = rollout_dir_of(path, rollout_dir);
    const auto latest = rollout::latest_rollout(dir);
    std::int64_t running = -1;
    if (const auto pid = latest ? rollout::coordinator_pid(dir) : std::nullopt) {
        running = *pid;
    }
    rollout::SiteTransport transport(rollout::own_executable(), std::string(build_version()));
    std::vector<rollout::NodeReport> nodes;
    std::set<std::string> versions;
    bool whole = true;
    for (const auto& n : inv.nodes) {
        nodes.push_back(rollout::probe_node(n, transport));
        const auto& r = nodes.back();
        versions.insert(r.version);
        whole = whole && r.node == "installed" && r.healthy && r.problems.empty();
    }
    whole = whole && versions.size() == 1 && !(latest && latest->open());
    const int code = whole ? 0 : exit_code(ErrorKind::policy);
    if (json) {
        JsonWriter j;
        j.begin_object().field("result", "reported").field("cluster", inv.cluster).field("exit_code", code)
            .field("one_version", versions.size() == 1).key("rollout");
        if (latest) {
            j.begin_object().field("id", latest->id).field("bundle", latest->bundle).field("version", latest->version)
                .field("started", latest->started).field("ended", latest->ended).field("open", latest->open())
                .field("result", latest->result).field("message", latest->message)
                .field("last_step", latest->last_step).field("failures", latest->failures).key("coordinator_pid");
            if (running >= 0) {
                j.value(running);
            } else {
                j.null();
            }
            j.key("nodes").begin_object();
            for (const auto& [name, step] : latest->nodes) {
                j.field(name, rollout::step_name(step));
            }
            j.end_object().end_object();
        } else {
            j.null();
        }
        j.key("nodes").begin_array();
        for (const auto& r : nodes) {
            j.begin_object().field("name", r.name).field("node", r.node).field("version", r.version)
                .field("role", rollout::role_name(r.role)).field("healthy", r.healthy).field("synced", r.synced);
            j.key("problems").begin_array();
            for (const auto& p : r.problems) {
                j.value(p);
            }
            j.end_array().end_object();
        }
        j.end_array().end_object();
        std::fputs(j.str().c_str(), stdout);
        return code;
    }
    std::printf("cluster %s: %s\n", inv.cluster.c_str(),
                whole ? "every node installed, healthy, on one version"
                      : versions.size() > 1 ? "nodes on different versions"
                      : (latest && latest->open()) ? "a rollout is open"
                                                   : "not every node is installed and healthy");
    if (latest) {
        std::printf("%s\n", rollout_line(*latest, running).c_str());
    }
    for (const auto& r : nodes) {
        std::printf("  %-16s %-12s %-10s %-8s %s%s\n", r.name.c_str(), r.node.empty() ? "unreachable" : r.node.c_str(),
                    r.version.empty() ? "-" : r.version.c_str(), rollout::role_name(r.role).c_str(),
                    r.healthy ? "healthy" : "UNHEALTHY", r.problems.empty() ? "" : ("  " + r.problems.front()).c_str());
    }
    return code;
}

void setup_step_down(CLI::App& app) {
    struct Args {
        std::filesystem::path root = "/";
        std::filesystem::path state_dir = k_default_state_dir;
        bool json = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("step-down", "Hand this node's leadership to another (the release's cluster.step_down)");
    cmd->add_option("--root", args->root, "Install root (default /)")->check(CLI::ExistingDirectory);
    cmd->add_option("--state-dir", args->state_dir, "The applier's state folder (default " + std::string(k_default_state_dir) + ")");
    cmd->add_flag("--json", args->json, "Print JSON");
    set_action(*cmd, [args] {
        step_down(args->root, args->state_dir);
        if (args->json) {
            JsonWriter j;
            j.begin_object().field("result", "stepped_down").end_object();
            std::fputs(j.str().c_str(), stdout);
        } else {
            std::printf("stepped down\n");
        }
        return 0;
    });
}

int plan_inventory(const InventoryPlanArgs& args) {
    const schema::Inventory inv = schema::load_inventory(args.inventory);
    const keys::BundleInfo info = coordinator_bundle(args, inv);
    const schema::Manifest& m = info.manifest;
    rollout::SiteTransport transport(rollout::own_executable(), std::string(build_version()));
    const rollout::ClusterPlan p = rollout::plan_cluster(
        inv, m, {std::filesystem::absolute(args.bundle), to_hex(sha256(info.head.manifest)), args.node_args}, transport);
    if (args.json) {
        print_cluster_json(inv, p);
    } else {
        print_cluster_text(inv, p);
    }
    return p.refusals.empty() ? 0 : exit_code(ErrorKind::policy);
}

} // namespace ferry::applier
