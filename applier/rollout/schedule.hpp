#pragma once

// The rollout's order as a pure function: the inventory and what each node reports (version,
// role, health) give the batches, each with the reason it goes when it goes.

#include "manifest-schema/inventory.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::rollout {

// What a node says it is in its cluster.
enum class Role { leader, follower, unknown };

// A node as the coordinator found it before the rollout.
struct NodeState {
    std::string name;
    std::string version; // installed version; empty when nothing is installed
    Role role = Role::unknown;
    bool healthy = true;
};

// Nodes upgraded together: no more than the policy allows are out at once.
struct Batch {
    enum class Kind { canary, batch, leader };
    Kind kind = Kind::batch;
    std::vector<std::string> nodes;
    std::string reason;
};

struct Schedule {
    std::vector<Batch> batches;       // in the order they run
    std::vector<std::string> skipped; // already on the target version
    std::string leader;               // the leader found, if any
    std::uint64_t allowed = 0;        // nodes that may be out at once
    std::uint64_t unhealthy = 0;      // nodes out already, counted against it
};

// Orders the nodes of INVENTORY whose version is not TARGET into batches: the canaries
// first, followers in inventory order, the leader alone (last, or first with leader-first),
// never more nodes out at once than max_unavailable allows, counting the nodes that are
// unhealthy already. Throws a policy Error when the cluster cannot be upgraded within it (two
// leaders, too many nodes out already) and an internal one when STATES misses a node.
[[nodiscard]] Schedule make_schedule(const schema::Inventory& inventory,
                                     const std::vector<NodeState>& states,
                                     const std::string& target);

// "leader", "follower", "unknown".
[[nodiscard]] std::string role_name(Role role);

// "canary", "batch", "leader".
[[nodiscard]] std::string kind_name(Batch::Kind kind);

} // namespace ferry::rollout
