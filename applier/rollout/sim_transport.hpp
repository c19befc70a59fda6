#pragma once

// A cluster simulated in this process, for the coordinator's tests and benchmark: each node
// answers the applier commands the coordinator sends (status --probe, plan, stage, apply,
// resume, step-down) with the JSON documents a real node prints, at no cost, and the transport
// keeps count of what it was asked and when.

#include "applier/rollout/transport.hpp"
#include "manifest-schema/manifest.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace ferry::rollout {

class SimTransport : public Transport {
public:
    // A node of the simulated cluster.
    struct Node {
        std::string version; // installed; "" for none
        bool leader = false;
        bool healthy = true;
        bool fail_apply = false; // its apply fails and rolls back (exit 5)
        bool out = false;        // applied, and not looked at since (its service restarting)
        std::uint64_t applies = 0;
        std::uint64_t stages = 0;
        std::uint64_t step_downs = 0;
    };

    // NODES on VERSION, the first the leader; an apply installs TARGET.
    SimTransport(const std::vector<std::string>& nodes, const std::string& version, std::string target);

    [[nodiscard]] NodeCall call(const schema::InventoryNode& node, const std::vector<std::string>& args,
                                std::chrono::seconds timeout) override;

    // Each node as it is now (copy, under the lock).
    [[nodiscard]] std::map<std::string, Node> nodes() const;
    // Marks NAME's applies to fail (and roll back).
    void fail_apply(const std::string& name);
    // Makes every call throw once APPLIES applies have been made: a coordinator that stops dead
    // there, for the tests of carrying a rollout on.
    void crash_after_applies(std::uint64_t applies);
    // The nodes in the order their applies began.
    [[nodiscard]] std::vector<std::string> apply_order() const;
    // The most nodes that were out at once: applied and not yet looked at again.
    [[nodiscard]] std::uint64_t most_out_at_once() const { return m_most_out; }
    // Every call made, for the benchmark's baseline.
    [[nodiscard]] std::uint64_t calls() const;

private:
    NodeCall status(const Node& n) const;

    mutable std::mutex m_mutex;
    std::map<std::string, Node> m_nodes;
    std::vector<std::string> m_order; // node names in inventory order, for handing leadership on
    std::string m_target;
    std::vector<std::string> m_apply_order;
    std::uint64_t m_out = 0;
    std::uint64_t m_most_out = 0;
    std::uint64_t m_calls = 0;
    std::uint64_t m_crash_after = 0; // 0: never
};

// An inventory of SIZE simulated nodes n0, n1, ... (n0 the leader SimTransport makes), with
// MAX out at once, CANARY canaries and no pause after them.
[[nodiscard]] schema::Inventory simulated_inventory(std::size_t size, schema::MaxUnavailable max,
                                                    std::uint64_t canary);
// The manifest of a clustered service "svc" at VERSION, with cluster.role and step_down.
[[nodiscard]] schema::Manifest simulated_manifest(const std::string& version);
// The names of INVENTORY's nodes, in order.
[[nodiscard]] std::vector<std::string> node_names(const schema::Inventory& inventory);

} // namespace ferry::rollout
