#include "cluster_plan.hpp"

#include "core/error.hpp"
#include "manifest-schema/version.hpp"

#include <algorithm>
#include <future>
#include <nlohmann/json.hpp>

namespace ferry::rollout {

namespace {

using nlohmann::json;

constexpr std::chrono::seconds k_status_timeout{60};
constexpr std::chrono::seconds k_plan_timeout{600};
constexpr std::size_t k_parallel_asks = 4;

// The one JSON document a node's command printed, or a problem naming the node.
std::optional<json> document(const NodeCall& call, const std::string& what, NodeReport& report) {
    if (const auto message = error_message(call)) {
        report.problems.push_back(what + " failed: " + *message);
        return std::nullopt;
    }
    try {
        return json::parse(call.out);
    } catch (const json::exception&) {
        std::string err = call.err;
        while (!err.empty() && err.back() == '\n') {
            err.pop_back();
        }
        report.problems.push_back(what + " failed" +
                                  (call.exit_code >= 0 ? " (exit " + std::to_string(call.exit_code) + ")" : "") +
                                  (err.empty() ? std::string() : ": " + printable(err)));
        return std::nullopt;
    }
}

std::string text(const json& j, const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

// Fills REPORT from the node's `status --probe`; false when it could not be read.
bool read_status(const schema::InventoryNode& node, Transport& transport, NodeReport& report) {
    const auto status = document(transport.call(node, {"status", "--json", "--probe"}, k_status_timeout),
                                 "status", report);
    if (!status) {
        return false;
    }
    report.node = text(*status, "node");
    if (status->contains("installed") && (*status)["installed"].is_object()) {
        report.version = text((*status)["installed"], "version");
    }
    if (status->contains("probe") && (*status)["probe"].is_object()) {
        const json& probe = (*status)["probe"];
        const std::string role = text(probe, "role");
        report.role = role == "leader" ? Role::leader : role == "follower" ? Role::follower : Role::unknown;
        report.healthy = probe.value("healthy", false);
        report.synced = probe.value("synced", true);
    }
    if (report.node == "in_progress" || report.node == "interrupted" || report.node == "failed") {
        report.problems.push_back("its node is " + report.node + ": see `ferry-applier status` there");
    }
    return true;
}

void ask_node(const schema::InventoryNode& node, const ClusterPlanRequest& request, Transport& transport,
              NodeReport& report) {
    if (!read_status(node, transport, report)) {
        return;
    }
    if (!transport.has_bundle(node, request.bundle, request.manifest_sha256)) {
        report.plan = "not_staged";
        return;
    }
    std::vector<std::string> args = {"plan", transport.bundle_on_node(node, request.bundle, request.manifest_sha256),
                                     "--json"};
    args.insert(args.end(), request.node_args.begin(), request.node_args.end());
    const auto plan = document(transport.call(node, args, k_plan_timeout), "plan", report);
    if (!plan) {
        return;
    }
    report.plan = text(*plan, "result");
    if (report.plan == "refused" && plan->contains("refusals")) {
        for (const auto& r : (*plan)["refusals"]) {
            report.problems.push_back(printable(r.get<std::string>()));
        }
    }
}

} // namespace

std::optional<std::string> error_message(const NodeCall& call) {
    try {
        const json doc = json::parse(call.out);
        if (doc.contains("error") && doc["error"].is_object()) {
            return printable(doc["error"].value("message", std::string()));
        }
    } catch (const json::exception&) {
    }
    return std::nullopt;
}

NodeReport probe_node(const schema::InventoryNode& node, Transport& transport) {
    NodeReport report;
    report.name = node.name;
    (void)read_status(node, transport, report);
    return report;
}

ClusterPlan plan_cluster(const schema::Inventory& inventory, const schema::Manifest& m, const ClusterPlanRequest& request,
                         Transport& transport) {
    ClusterPlan plan;
    plan.bundle = m.name;
    plan.version = m.version.str();
    plan.peers = m.procedure.cluster.peers;
    std::vector<NodeState> states;
    // Every node asked, four at a time (a node's plan may verify a large staged bundle).
    std::vector<NodeReport> reports(inventory.nodes.size());
    for (std::size_t start = 0; start < reports.size(); start += k_parallel_asks) {
        std::vector<std::future<void>> asking;
        for (std::size_t i = start; i < std::min(reports.size(), start + k_parallel_asks); ++i) {
            asking.push_back(std::async(std::launch::async, [&, i] {
                reports[i].name = inventory.nodes[i].name;
                ask_node(inventory.nodes[i], request, transport, reports[i]);
            }));
        }
        for (auto& a : asking) {
            a.get();
        }
    }
    for (std::size_t i = 0; i < reports.size(); ++i) {
        const auto& node = inventory.nodes[i];
        NodeReport& report = reports[i];
        for (const auto& p : report.problems) {
            plan.refusals.push_back("node " + node.name + ": " + p);
        }
        states.push_back({node.name, report.version, report.role, report.healthy});
        plan.nodes.push_back(std::move(report));
    }
    // The version-skew guard: until the last node is upgraded, the new version runs beside the
    // versions the other nodes have now.
    if (!plan.peers.empty()) {
        const auto peers = schema::parse_range(plan.peers);
        for (const auto& n : plan.nodes) {
            const auto v = schema::parse_version(n.version);
            if (!n.version.empty() && n.version != plan.version && (!v || !peers || !peers->contains(*v))) {
                plan.refusals.push_back("node " + n.name + " runs " + n.version + ", and " + plan.bundle + " " +
                                        plan.version + " interoperates only with peers " + plan.peers +
                                        ": the cluster would mix versions that cannot work together");
            }
        }
    }
    // Nodes already on the new version went first in an earlier run: the canaries are behind.
    schema::Inventory ordered = inventory;
    if (std::any_of(states.begin(), states.end(), [&](const NodeState& s) { return s.version == plan.version; })) {
        ordered.rollout.canary = 0;
        ordered.rollout.canary_group.clear();
    }
    try {
        plan.schedule = make_schedule(ordered, states, plan.version);
    } catch (const Error& e) {
        plan.refusals.push_back(e.what());
    }
    return plan;
}

} // namespace ferry::rollout
