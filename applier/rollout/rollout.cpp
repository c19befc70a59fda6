#include "rollout.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <future>
#include <thread>

namespace ferry::rollout {

namespace {

constexpr std::chrono::seconds k_stage_timeout{3600};
constexpr std::chrono::seconds k_apply_timeout{3600};
constexpr std::size_t k_parallel_stages = 4;

std::string last_line(std::string text) {
    while (!text.empty() && text.back() == '\n') {
        text.pop_back();
    }
    const auto nl = text.rfind('\n');
    return printable(nl == std::string::npos ? text : text.substr(nl + 1));
}

// The error message of a node's JSON document, or the last line it wrote on stderr.
std::string failure_of(const NodeCall& call) { return error_message(call).value_or(last_line(call.err)); }

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

class Rollout {
public:
    Rollout(const schema::Inventory& inv, const schema::Manifest& m, const RolloutRequest& request, Transport& transport,
            const std::function<void(const std::string&)>& say)
        : m_inv(inv), m_manifest(m), m_request(request), m_transport(transport), m_say(say) {}

    RolloutReport run();

private:
    const schema::InventoryNode& node(const std::string& name) const { return *m_inv.node(name); }
    void outcome(const std::string& name, NodeOutcome::Result result, const std::string& detail);
    bool stage_everywhere(const std::vector<std::string>& nodes);
    bool upgrade(const std::string& name);
    bool gate(const std::string& name);
    bool step_down(const std::string& leader);
    void finish();

    const schema::Inventory& m_inv;
    const schema::Manifest& m_manifest;
    const RolloutRequest& m_request;
    Transport& m_transport;
    const std::function<void(const std::string&)>& m_say;
    RolloutReport m_report;
};

void Rollout::outcome(const std::string& name, NodeOutcome::Result result, const std::string& detail) {
    for (auto& o : m_report.nodes) {
        if (o.name == name) {
            o.result = result;
            o.detail = detail;
        }
    }
}

bool Rollout::stage_everywhere(const std::vector<std::string>& nodes) {
    // Bounded parallel staging: every node copies and verifies the bundle before any stops.
    std::vector<std::string> problems;
    for (std::size_t start = 0; start < nodes.size(); start += k_parallel_stages) {
        std::vector<std::pair<std::string, std::future<NodeCall>>> running;
        for (std::size_t i = start; i < std::min(nodes.size(), start + k_parallel_stages); ++i) {
            const auto& n = node(nodes[i]);
            running.emplace_back(nodes[i], std::async(std::launch::async, [this, &n] {
                                     return m_transport.call(
                                         n, with({"stage", m_request.plan.bundle.string(), "--json", "-q"}, m_request.plan.node_args),
                                         k_stage_timeout);
                                 }));
        }
        for (auto& [name, future] : running) {
            const NodeCall call = future.get();
            if (call.exit_code == 0) {
                m_say("staged on " + name);
            } else {
                problems.push_back("node " + name + ": stage failed: " + failure_of(call));
            }
        }
    }
    for (const auto& p : problems) {
        m_report.plan.refusals.push_back(p);
    }
    return problems.empty();
}

bool Rollout::gate(const std::string& name) {
    // Healthy and caught up within the gate's time, then still healthy after `stabilize`.
    const auto deadline = std::chrono::steady_clock::now() + m_request.gate_timeout;
    NodeReport r;
    for (;;) {
        r = probe_node(node(name), m_transport);
        if (r.healthy && r.synced && r.version == m_manifest.version.str()) {
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            outcome(name, NodeOutcome::Result::failed,
                    std::string(r.healthy ? "not synced" : "not healthy") + " within " +
                        std::to_string(m_request.gate_timeout.count()) + " s after its upgrade");
            return false;
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (m_inv.rollout.stabilize_seconds > 0) {
        m_say("  " + name + ": stabilizing for " + std::to_string(m_inv.rollout.stabilize_seconds) + " s");
        std::this_thread::sleep_for(std::chrono::seconds(m_inv.rollout.stabilize_seconds));
        r = probe_node(node(name), m_transport);
        if (!r.healthy) {
            outcome(name, NodeOutcome::Result::failed, "unhealthy after stabilizing");
            return false;
        }
    }
    return true;
}

bool Rollout::upgrade(const std::string& name) {
    m_say("upgrading " + name);
    const NodeCall call = m_transport.call(
        node(name), with({"apply", m_request.plan.bundle.string(), "--json", "-q"}, m_request.plan.node_args),
        k_apply_timeout);
    if (call.exit_code != 0) {
        const std::string why = failure_of(call);
        outcome(name, NodeOutcome::Result::failed,
                call.exit_code == 5 ? "failed and rolled back: " + why : "failed: " + why);
        if (call.exit_code != 5) {
            // Not rolled back: the node may be between versions; nothing more is touched.
            m_report.result = RolloutReport::Result::failed;
        }
        return false;
    }
    if (!gate(name)) {
        return false;
    }
    outcome(name, NodeOutcome::Result::upgraded, "");
    m_say("  " + name + ": " + m_manifest.version.str() + ", healthy" +
          (m_manifest.procedure.cluster.synced.empty() ? "" : ", synced"));
    return true;
}

bool Rollout::step_down(const std::string& leader) {
    m_say("stepping down the leader " + leader);
    const NodeCall call = m_transport.call(node(leader), {"step-down", "--json"}, std::chrono::seconds(180));
    if (call.exit_code != 0) {
        m_report.message = "the leader " + leader + " did not step down: " + failure_of(call);
        return false;
    }
    const auto deadline = std::chrono::steady_clock::now() + m_request.leader_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        for (const auto& n : m_inv.nodes) {
            if (n.name != leader && probe_node(n, m_transport).role == Role::leader) {
                m_say("  leadership moved to " + n.name);
                return true;
            }
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    m_report.message = "leadership did not move from " + leader + " within " +
                       std::to_string(m_request.leader_timeout.count()) + " s; the leader was not upgraded";
    return false;
}

void Rollout::finish() {
    for (const auto& n : m_inv.nodes) {
        m_report.after.push_back(probe_node(n, m_transport));
    }
}

RolloutReport Rollout::run() {
    m_report.plan = plan_cluster(m_inv, m_manifest, m_request.plan, m_transport);
    for (const auto& n : m_inv.nodes) {
        m_report.nodes.push_back({n.name, NodeOutcome::Result::not_reached, ""});
    }
    if (m_report.plan.refusals.empty() && m_report.plan.schedule) {
        std::vector<std::string> pending;
        for (const auto& b : m_report.plan.schedule->batches) {
            pending.insert(pending.end(), b.nodes.begin(), b.nodes.end());
        }
        (void)stage_everywhere(pending);
    }
    if (!m_report.plan.refusals.empty() || !m_report.plan.schedule) {
        m_report.result = RolloutReport::Result::refused;
        m_report.message = "refused before any service stopped";
        finish();
        return m_report;
    }
    const Schedule& schedule = *m_report.plan.schedule;
    for (const auto& s : schedule.skipped) {
        outcome(s, NodeOutcome::Result::skipped, "already on " + m_manifest.version.str());
    }
    // Canaries that went in an earlier run are on the new version now: the pause is behind.
    const bool canaries_done = !schedule.skipped.empty();
    const bool pause = !m_inv.rollout.after_canary_seconds && (m_inv.rollout.canary > 0 || !m_inv.rollout.canary_group.empty());
    if (canaries_done && pause && !m_request.continue_after_pause && !schedule.batches.empty()) {
        m_report.result = RolloutReport::Result::paused;
        m_report.message = "paused after the canaries; check them, then run the same command with --continue";
        finish();
        return m_report;
    }
    bool after_canaries = canaries_done;
    for (const auto& batch : schedule.batches) {
        if (batch.kind != Batch::Kind::canary && !after_canaries) {
            after_canaries = true;
            if (pause && !m_request.continue_after_pause) {
                m_report.result = RolloutReport::Result::paused;
                m_report.message = "paused after the canaries; check them, then run the same command with --continue";
                break;
            }
            if (m_inv.rollout.after_canary_seconds) {
                m_say("waiting " + std::to_string(*m_inv.rollout.after_canary_seconds) + " s after the canaries");
                std::this_thread::sleep_for(std::chrono::seconds(*m_inv.rollout.after_canary_seconds));
            }
        }
        m_say(batch.reason);
        if (batch.kind == Batch::Kind::leader && !m_manifest.procedure.cluster.step_down.empty() &&
            !step_down(batch.nodes.front())) {
            m_report.result = RolloutReport::Result::stopped;
            break;
        }
        for (const auto& name : batch.nodes) {
            if (!upgrade(name)) {
                ++m_report.failures;
            }
            if (m_report.result == RolloutReport::Result::failed) {
                break;
            }
        }
        if (m_report.result == RolloutReport::Result::failed) {
            m_report.message = "a node failed and was not rolled back: the rollout stopped";
            break;
        }
        if (m_report.failures > m_inv.rollout.max_failures) {
            m_report.result = RolloutReport::Result::stopped;
            m_report.message = std::to_string(m_report.failures) + " node(s) failed, over the budget of " +
                               std::to_string(m_inv.rollout.max_failures) + " (max_failures): the rollout stopped";
            break;
        }
    }
    finish();
    return m_report;
}

} // namespace

RolloutReport run_rollout(const schema::Inventory& inventory, const schema::Manifest& m, const RolloutRequest& request,
                          Transport& transport, const std::function<void(const std::string&)>& say) {
    return Rollout(inventory, m, request, transport, say).run();
}

std::string result_name(RolloutReport::Result result) {
    switch (result) {
    case RolloutReport::Result::done:
        return "done";
    case RolloutReport::Result::paused:
        return "paused";
    case RolloutReport::Result::refused:
        return "refused";
    case RolloutReport::Result::stopped:
        return "stopped";
    case RolloutReport::Result::failed:
        return "failed";
    }
    return "?";
}

std::string result_name(NodeOutcome::Result result) {
    switch (result) {
    case NodeOutcome::Result::upgraded:
        return "upgraded";
    case NodeOutcome::Result::skipped:
        return "skipped";
    case NodeOutcome::Result::failed:
        return "failed";
    case NodeOutcome::Result::not_reached:
        return "not_reached";
    }
    return "?";
}

int exit_code(RolloutReport::Result result) {
    switch (result) {
    case RolloutReport::Result::done:
        return 0;
    case RolloutReport::Result::paused:
        return 8;
    case RolloutReport::Result::refused:
        return 4;
    case RolloutReport::Result::stopped:
        return 5;
    case RolloutReport::Result::failed:
        return 6;
    }
    return 1;
}

} // namespace ferry::rollout
