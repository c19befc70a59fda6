#pragma once

// What a rolling apply would do, worked out without changing anything: each node's version,
// role, health and own plan verdict, the version-skew check and the schedule.

#include "applier/rollout/schedule.hpp"
#include "applier/rollout/transport.hpp"
#include "manifest-schema/inventory.hpp"
#include "manifest-schema/manifest.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ferry::rollout {

// One node as the coordinator found it.
struct NodeReport {
    std::string name;
    std::string node;    // what its status says: fresh, installed, in_progress, interrupted, failed
    std::string version; // installed, "" if none
    Role role = Role::unknown;
    bool healthy = false;
    bool synced = true;
    std::string plan;    // its own plan's result: ok, refused, already_installed; not_staged
                         // (the bundle is not on that machine yet: staging copies it there)
    std::vector<std::string> problems; // why this node stops the rollout
};

struct ClusterPlan {
    std::string bundle;  // name
    std::string version; // the version the rollout installs
    std::string peers;   // the range the new version interoperates with, "" if unsaid
    std::vector<NodeReport> nodes;
    std::optional<Schedule> schedule;
    std::vector<std::string> refusals; // every reason the rollout would not start
};

// What `plan` is asked to pass on to each node.
struct ClusterPlanRequest {
    std::filesystem::path bundle;
    std::string manifest_sha256;        // the bundle's identity (its staged copy's, on a node)
    std::vector<std::string> node_args; // --trust T, --allow-major, ... as each node's plan gets them
};

// The message of the error document CALL printed (a failed --json command), escaped; nullopt
// when it printed none.
[[nodiscard]] std::optional<std::string> error_message(const NodeCall& call);

// NODE as its `status --probe` describes it (version, role, health, sync); problems when it
// cannot be read or is busy, interrupted or failed.
[[nodiscard]] NodeReport probe_node(const schema::InventoryNode& node, Transport& transport);

// Asks every node of INVENTORY, through TRANSPORT, its status (with a probe of its role and
// health) and its own plan for the bundle whose verified manifest is M; checks the versions the
// cluster would mix against M's cluster.peers; orders the nodes. Changes nothing.
[[nodiscard]] ClusterPlan plan_cluster(const schema::Inventory& inventory, const schema::Manifest& m,
                                       const ClusterPlanRequest& request, Transport& transport);

} // namespace ferry::rollout
