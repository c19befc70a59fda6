// The cluster's side of `plan --inventory`: render what the coordinator found and would do.

#include "applier/commands.hpp"
#include "applier/rollout/cluster_plan.hpp"

#include "core/error.hpp"
#include "core/json.hpp"
#include "keys/bundle.hpp"

#include <cstdio>

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

} // namespace

int plan_inventory(const InventoryPlanArgs& args) {
    const schema::Inventory inv = schema::load_inventory(args.inventory);
    const keys::TrustStore trust = keys::load_trust_store(args.trust);
    // The coordinator checks the bundle's head itself; every node verifies it in full.
    const keys::BundleInfo info = keys::inspect_bundle(args.bundle, &trust, false);
    if (info.manifest.expires <= now()) {
        throw Error(ErrorKind::policy, args.bundle.string() + ": bundle " + info.manifest.name + " " +
                                           info.manifest.version.str() + " expired at " +
                                           format_time(info.manifest.expires));
    }
    rollout::LocalTransport transport(rollout::own_executable());
    const rollout::ClusterPlan p =
        rollout::plan_cluster(inv, info.manifest, {std::filesystem::absolute(args.bundle), args.node_args}, transport);
    if (args.json) {
        print_cluster_json(inv, p);
    } else {
        print_cluster_text(inv, p);
    }
    return p.refusals.empty() ? 0 : exit_code(ErrorKind::policy);
}

} // namespace ferry::applier
