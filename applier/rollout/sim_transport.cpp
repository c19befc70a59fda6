#include "sim_transport.hpp"

#include "core/error.hpp"
#include "core/json.hpp"
#include "manifest-schema/version.hpp"

#include <algorithm>

namespace ferry::rollout {

namespace {

NodeCall document(int exit_code, const std::string& json) { return {exit_code, json, ""}; }

// A failure as a node's applier reports it: the error document, and the message on stderr.
NodeCall failure(int exit_code, const std::string& kind, const std::string& message) {
    return error_call(exit_code, kind, message, "ferry-applier: error: " + message + "\n");
}

} // namespace

SimTransport::SimTransport(const std::vector<std::string>& nodes, const std::string& version, std::string target)
    : m_order(nodes), m_target(std::move(target)) {
    for (const auto& name : nodes) {
        m_nodes[name].version = version;
    }
    if (!nodes.empty()) {
        m_nodes[nodes.front()].leader = true;
    }
}

NodeCall SimTransport::status(const Node& n) const {
    JsonWriter j;
    j.begin_object().field("result", "reported").field("node", n.version.empty() ? "fresh" : "installed").key("installed");
    if (n.version.empty()) {
        j.null();
    } else {
        j.begin_object().field("version", n.version).end_object();
    }
    j.key("probe").begin_object().field("role", n.leader ? "leader" : "follower").field("healthy", n.healthy)
        .field("synced", true).end_object().end_object();
    return document(0, j.str());
}

NodeCall SimTransport::call(const schema::InventoryNode& node, const std::vector<std::string>& args,
                            std::chrono::seconds /*timeout*/) {
    std::unique_lock lock(m_mutex);
    ++m_calls;
    if (m_crash_after > 0 && m_apply_order.size() >= m_crash_after) {
        throw Error(ErrorKind::internal, "the simulated coordinator stops here");
    }
    const auto it = m_nodes.find(node.name);
    if (it == m_nodes.end() || args.empty()) {
        return failure(1, "input", "no simulated node " + node.name);
    }
    Node& n = it->second;
    const std::string& command = args.front();
    if (command == "status") {
        if (n.out) {
            n.out = false; // back: the first look after its apply finds it up
            --m_out;
        }
        return status(n);
    }
    if (command == "plan") {
        return document(0, n.version == m_target ? "{\"result\":\"already_installed\"}\n" : "{\"result\":\"ok\"}\n");
    }
    if (command == "stage") {
        ++n.stages;
        return document(0, "{\"result\":\"staged\"}\n");
    }
    if (command == "apply" || command == "resume") {
        ++n.applies;
        m_apply_order.push_back(node.name);
        if (n.fail_apply) {
            return failure(5, "rolled_back", "health check failed; rolled back to " + n.version);
        }
        n.version = m_target;
        if (!n.out) {
            n.out = true; // restarted on the new version: out until someone looks at it again
            m_most_out = std::max(m_most_out, ++m_out);
        }
        return document(0, "{\"result\":\"applied\"}\n");
    }
    if (command == "step-down") {
        ++n.step_downs;
        n.leader = false;
        for (const auto& other : m_order) {
            if (other != node.name) {
                m_nodes[other].leader = true;
                break;
            }
        }
        return document(0, "{\"result\":\"stepped_down\"}\n");
    }
    return failure(2, "usage", "the simulated node does not know " + command);
}

std::map<std::string, SimTransport::Node> SimTransport::nodes() const {
    std::lock_guard lock(m_mutex);
    return m_nodes;
}

void SimTransport::fail_apply(const std::string& name) {
    std::lock_guard lock(m_mutex);
    m_nodes.at(name).fail_apply = true;
}

void SimTransport::crash_after_applies(std::uint64_t applies) {
    std::lock_guard lock(m_mutex);
    m_crash_after = applies;
}

std::vector<std::string> SimTransport::apply_order() const {
    std::lock_guard lock(m_mutex);
    return m_apply_order;
}

schema::Inventory simulated_inventory(std::size_t size, schema::MaxUnavailable max, std::uint64_t canary) {
    schema::Inventory inv;
    inv.cluster = "simulated";
    for (std::size_t i = 0; i < size; ++i) {
        schema::InventoryNode node;
        node.name = "n" + std::to_string(i);
        inv.nodes.push_back(node);
    }
    inv.rollout.max_unavailable = max;
    inv.rollout.canary = canary;
    inv.rollout.after_canary_seconds = 0;
    return inv;
}

schema::Manifest simulated_manifest(const std::string& version) {
    schema::Manifest m;
    m.name = "svc";
    m.version = *schema::parse_version(version);
    m.procedure.cluster.role = {"role"};
    m.procedure.cluster.step_down = {"step-down"};
    return m;
}

std::vector<std::string> node_names(const schema::Inventory& inventory) {
    std::vector<std::string> out;
    for (const auto& n : inventory.nodes) {
        out.push_back(n.name);
    }
    return out;
}

std::uint64_t SimTransport::calls() const {
    std::lock_guard lock(m_mutex);
    return m_calls;
}

} // namespace ferry::rollout
