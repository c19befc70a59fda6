#include "schedule.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace ferry::rollout {

namespace {

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) {
        out += (out.empty() ? "" : ", ") + n;
    }
    return out;
}

// Packs NODES, in order, into batches of KIND: each batch takes healthy nodes while the nodes
// out at once (the healthy ones it takes down, and every unhealthy node) stay within ALLOWED.
void pack(Schedule& s, const std::vector<std::string>& nodes,
          const std::map<std::string, const NodeState*>& by_name, Batch::Kind kind,
          const std::string& what) {
    const std::uint64_t room = s.allowed > s.unhealthy ? s.allowed - s.unhealthy : 0;
    Batch current{kind, {}, {}};
    std::uint64_t taken = 0;
    const auto flush = [&] {
        if (!current.nodes.empty()) {
            s.batches.push_back(current);
            current.nodes.clear();
            taken = 0;
        }
    };
    for (const auto& name : nodes) {
        const bool healthy = by_name.at(name)->healthy;
        if (healthy && taken == room) {
            flush();
        }
        current.nodes.push_back(name);
        taken += healthy ? 1 : 0;
    }
    flush();
    for (auto& b : s.batches) {
        if (b.kind == kind && b.reason.empty()) {
            b.reason =
                what + ": " + join(b.nodes) + " (at most " + std::to_string(s.allowed) +
                " out at once" +
                (s.unhealthy > 0 ? ", " + std::to_string(s.unhealthy) + " of them unhealthy already"
                                 : "") +
                ")";
        }
    }
}

} // namespace

std::string role_name(Role role) {
    switch (role) {
    case Role::leader:
        return "leader";
    case Role::follower:
        return "follower";
    case Role::unknown:
        return "unknown";
    }
    return "?";
}

std::string kind_name(Batch::Kind kind) {
    switch (kind) {
    case Batch::Kind::canary:
        return "canary";
    case Batch::Kind::batch:
        return "batch";
    case Batch::Kind::leader:
        return "leader";
    }
    return "?";
}

Schedule make_schedule(const schema::Inventory& inventory, const std::vector<NodeState>& states,
                       const std::string& target) {
    const schema::RolloutPolicy& policy = inventory.rollout;
    std::map<std::string, const NodeState*> by_name;
    for (const auto& s : states) {
        by_name[s.name] = &s;
    }
    Schedule s;
    std::vector<std::string> leaders;
    for (const auto& node : inventory.nodes) {
        const auto it = by_name.find(node.name);
        if (it == by_name.end()) {
            throw Error(ErrorKind::internal, "no state for node " + node.name);
        }
        if (it->second->role == Role::leader) {
            leaders.push_back(node.name);
        }
        s.unhealthy += it->second->healthy ? 0 : 1;
    }
    if (leaders.size() > 1) {
        throw Error(ErrorKind::policy, "nodes " + join(leaders) + " all say they are the leader",
                    "a cluster with two leaders is not upgraded: repair it first");
    }
    s.leader = leaders.empty() ? "" : leaders.front();
    s.allowed = policy.max_unavailable.allowed(inventory.nodes.size());

    std::vector<std::string> pending;
    for (const auto& node : inventory.nodes) {
        (by_name.at(node.name)->version == target ? s.skipped : pending).push_back(node.name);
    }
    const bool has_healthy_pending =
        std::any_of(pending.begin(), pending.end(),
                    [&](const std::string& n) { return by_name.at(n)->healthy; });
    if (has_healthy_pending && s.allowed <= s.unhealthy) {
        throw Error(ErrorKind::policy,
                    std::to_string(s.unhealthy) +
                        " node(s) are unhealthy already, and max_unavailable " +
                        policy.max_unavailable.str() + " lets " + std::to_string(s.allowed) +
                        " of " + std::to_string(inventory.nodes.size()) + " be out at once",
                    "bring the unhealthy nodes back first; upgrading another would take the "
                    "cluster below quorum");
    }
    // The leader goes alone, after a step-down; it is never a canary.
    const bool leader_pending =
        !s.leader.empty() && std::find(pending.begin(), pending.end(), s.leader) != pending.end();
    if (leader_pending) {
        std::erase(pending, s.leader);
    }
    std::set<std::string> canary_set;
    if (!policy.canary_group.empty()) {
        for (const auto& n : inventory.groups.at(policy.canary_group)) {
            if (std::find(pending.begin(), pending.end(), n) != pending.end()) {
                canary_set.insert(n);
            }
        }
    } else {
        for (const auto& n : pending) {
            if (canary_set.size() < policy.canary) {
                canary_set.insert(n);
            }
        }
    }
    std::vector<std::string> canaries;
    std::vector<std::string> rest;
    for (const auto& n : pending) {
        (canary_set.count(n) != 0 ? canaries : rest).push_back(n);
    }
    const Batch leader_batch{Batch::Kind::leader,
                             {s.leader},
                             "the leader " + s.leader + ", " +
                                 (policy.order == schema::Order::leader_first ? "first" : "last") +
                                 ", alone, after a step-down"};
    if (leader_pending && policy.order == schema::Order::leader_first) {
        s.batches.push_back(leader_batch);
    }
    pack(s, canaries, by_name, Batch::Kind::canary,
         policy.canary_group.empty() ? "canary" : "canary (group " + policy.canary_group + ")");
    pack(s, rest, by_name, Batch::Kind::batch, s.leader.empty() ? "nodes" : "followers");
    if (leader_pending && policy.order != schema::Order::leader_first) {
        s.batches.push_back(leader_batch);
    }
    return s;
}

} // namespace ferry::rollout
