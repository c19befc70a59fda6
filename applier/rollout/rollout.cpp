#include "rollout.hpp"

#include "applier/state/crash_point.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <thread>

namespace ferry::rollout {

namespace {

constexpr std::chrono::seconds k_apply_timeout{3600};
constexpr std::size_t k_parallel_stages = 4;

// The error message of a node's JSON document, or the last line it wrote on stderr.
std::string failure_of(const NodeCall& call) { return error_message(call).value_or(last_line(call.err)); }

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

// How a node the journal left at STEP is shown when a rollout is carried on.
NodeShown shown_of(NodeStep step) {
    switch (step) {
    case NodeStep::none:
        return NodeShown::waiting;
    case NodeStep::staged:
        return NodeShown::staged;
    case NodeStep::applying:
        return NodeShown::applying;
    case NodeStep::applied:
        return NodeShown::checking;
    case NodeStep::upgraded:
        return NodeShown::upgraded;
    case NodeStep::failed:
        return NodeShown::rolled_back;
    case NodeStep::broken:
        return NodeShown::failed;
    }
    return NodeShown::waiting;
}

class Rollout {
public:
    Rollout(const schema::Inventory& inv, const schema::Manifest& m, const RolloutRequest& request, Transport& transport,
            Journal& journal, const std::function<void(const std::string&)>& say,
            const std::function<void(const NodeView&)>& show)
        : m_inv(inv), m_manifest(m), m_request(request), m_transport(transport), m_journal(journal), m_say(say),
          m_show(show) {}

    RolloutReport run();

private:
    const schema::InventoryNode& node(const std::string& name) const { return *m_inv.node(name); }
    [[nodiscard]] NodeStep step_of(const std::string& name) const;
    void record(const std::string& name, NodeStep step, const std::string& detail = {});
    void outcome(const std::string& name, NodeOutcome::Result result, const std::string& detail);
    void failed(const std::string& name, const std::string& detail);
    void open_record();
    bool recover();
    bool recover_node(const std::string& name);
    bool stage_everywhere(const std::vector<std::string>& nodes);
    bool past_canaries(bool pause);
    bool inside_window();
    void say(const std::string& line);
    void show(const std::string& name, NodeShown step);
    void show_plan();
    void upgrade_batch(const std::vector<std::string>& nodes);
    bool upgrade(const std::string& name);
    bool gate(const std::string& name);
    bool step_down(const std::string& leader);
    bool over_budget();
    RolloutReport finish(RolloutReport::Result result, const std::string& message);

    const schema::Inventory& m_inv;
    const schema::Manifest& m_manifest;
    const RolloutRequest& m_request;
    Transport& m_transport;
    Journal& m_journal;
    const std::function<void(const std::string&)>& m_say;
    const std::function<void(const NodeView&)>& m_show;
    std::map<std::string, NodeView> m_views;
    RolloutRecord m_record;
    RolloutReport m_report;
    // The nodes of a batch are upgraded at once, each on its own thread: the journal, the
    // report and the progress lines are shared under this lock.
    std::recursive_mutex m_lock;
};

void Rollout::say(const std::string& line) {
    const std::lock_guard lock(m_lock);
    m_say(line);
}

void Rollout::show(const std::string& name, NodeShown step) {
    const std::lock_guard lock(m_lock);
    NodeView& v = m_views[name];
    v.name = name;
    v.step = step;
    if (step == NodeShown::upgraded) {
        v.version = m_manifest.version.str();
    }
    if (m_show) {
        m_show(v);
    }
}

// Each node's version and role as the plan found them.
void Rollout::show_plan() {
    const std::lock_guard lock(m_lock);
    for (const auto& n : m_report.plan.nodes) {
        NodeView& v = m_views[n.name];
        v.version = n.version;
        v.role = n.role;
        show(n.name, v.step);
    }
}

NodeStep Rollout::step_of(const std::string& name) const {
    const auto it = m_record.nodes.find(name);
    return it == m_record.nodes.end() ? NodeStep::none : it->second;
}

void Rollout::record(const std::string& name, NodeStep step, const std::string& detail) {
    const std::lock_guard lock(m_lock);
    m_journal.node_step(m_record.id, name, step, detail);
    m_record.nodes[name] = step;
    applier::crash_point("rollout:" + step_name(step) + ":" + name);
}

void Rollout::outcome(const std::string& name, NodeOutcome::Result result, const std::string& detail) {
    const std::lock_guard lock(m_lock);
    for (auto& o : m_report.nodes) {
        if (o.name == name) {
            o.result = result;
            o.detail = detail;
        }
    }
}

// NAME failed and rolled back: one more failure against the budget.
void Rollout::failed(const std::string& name, const std::string& detail) {
    const std::lock_guard lock(m_lock);
    outcome(name, NodeOutcome::Result::failed, detail);
    ++m_report.failures;
    m_journal.set_failures(m_record.id, m_report.failures);
    record(name, NodeStep::failed, detail);
}

// Carries on the rollout of this bundle the journal holds open, or starts one.
void Rollout::open_record() {
    const auto open = m_journal.open_rollout();
    if (open && open->manifest_sha256 == m_request.plan.manifest_sha256) {
        m_record = *open;
        m_report.resumed = true;
        m_say("carrying on rollout " + std::to_string(m_record.id) + " (started " + m_record.started +
              (m_record.last_step.empty() ? "" : ", last step: " + m_record.last_step) + ")");
        m_journal.decision(m_record.id, "rollout_resumed", m_record.last_step, false);
    } else {
        m_record = m_journal.begin(m_manifest.name, m_manifest.version.str(), m_request.plan.manifest_sha256);
        if (open) {
            m_journal.supersede(open->id, m_record.id);
            m_say("rollout " + std::to_string(open->id) + " of " + open->bundle + " " + open->version +
                  " was left open; it is closed, superseded by this one");
        }
    }
    m_report.rollout = m_record.id;
    m_report.failures = m_record.failures;
    if (m_request.continue_after_pause && !m_record.continued) {
        m_journal.set_continued(m_record.id);
        m_record.continued = true;
    }
}

// A node the journal says was being upgraded when the last coordinator stopped: find out how
// its apply ended, finish it, and pass its gate. False when the rollout cannot go on.
bool Rollout::recover_node(const std::string& name) {
    NodeReport r = probe_node(node(name), m_transport);
    const auto deadline = std::chrono::steady_clock::now() + k_apply_timeout;
    if (r.node == "in_progress") {
        // The apply the last coordinator started goes on there (a dropped ssh connection does
        // not stop it): no second one is started; its end is waited for on the node's lock.
        m_say(name + " is still working on its upgrade (its state folder is locked): waiting for it to end");
    }
    while (r.node == "in_progress" && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::seconds(1)); // its apply outlived the coordinator
        r = probe_node(node(name), m_transport);
    }
    if (r.node == "interrupted") {
        m_say(name + " was left in the middle of its upgrade: resuming its run");
        const NodeCall call = m_transport.call(node(name), {"resume", "--json"}, k_apply_timeout);
        if (call.exit_code == 5) {
            failed(name, "resumed, failed and rolled back: " + failure_of(call));
            return true;
        }
        if (call.exit_code != 0) {
            outcome(name, NodeOutcome::Result::failed, "its interrupted run could not be resumed: " + failure_of(call));
            record(name, NodeStep::broken, failure_of(call));
            m_report.result = RolloutReport::Result::failed;
            return false;
        }
        r = probe_node(node(name), m_transport);
    }
    if (r.node == "failed") {
        outcome(name, NodeOutcome::Result::failed, "its upgrade failed and its rollback too");
        record(name, NodeStep::broken, "found failed");
        m_report.result = RolloutReport::Result::failed;
        return false;
    }
    if (r.version == m_manifest.version.str() && r.node == "installed") {
        record(name, NodeStep::applied);
        return true;
    }
    // Still on its old version: its apply never started, or failed and rolled back; it goes
    // again in its turn.
    record(name, NodeStep::staged, "found on " + (r.version.empty() ? std::string("nothing") : r.version));
    return true;
}

bool Rollout::recover() {
    // A node recorded `applying`, and any node of the last batch begun that was not recorded
    // as done with (after a power cut, the journal may end at the batch's own record).
    const auto in_batch = [&](const std::string& name) {
        return std::find(m_record.batch.begin(), m_record.batch.end(), name) != m_record.batch.end();
    };
    for (const auto& n : m_inv.nodes) {
        const NodeStep step = step_of(n.name);
        const bool unsure = step == NodeStep::applying ||
                            (in_batch(n.name) && (step == NodeStep::none || step == NodeStep::staged));
        if (unsure && !recover_node(n.name)) {
            return false;
        }
    }
    for (const auto& n : m_inv.nodes) {
        if (step_of(n.name) == NodeStep::applied) {
            m_say("checking " + n.name + ", upgraded before the last coordinator stopped");
            if (gate(n.name)) {
                outcome(n.name, NodeOutcome::Result::upgraded, "");
                record(n.name, NodeStep::upgraded);
                show(n.name, NodeShown::upgraded);
            }
        }
    }
    return true;
}

bool Rollout::stage_everywhere(const std::vector<std::string>& nodes) {
    // Bounded parallel staging: every node copies and verifies the bundle before any stops.
    std::vector<std::string> todo;
    for (const auto& name : nodes) {
        if (step_of(name) == NodeStep::none) {
            todo.push_back(name);
        }
    }
    std::vector<std::string> problems;
    for (std::size_t start = 0; start < todo.size(); start += k_parallel_stages) {
        std::vector<std::pair<std::string, std::future<NodeCall>>> running;
        for (std::size_t i = start; i < std::min(todo.size(), start + k_parallel_stages); ++i) {
            const auto& n = node(todo[i]);
            show(todo[i], NodeShown::staging);
            running.emplace_back(todo[i], std::async(std::launch::async, [this, &n] {
                                     return m_transport.stage(n, m_request.plan.bundle, m_request.plan.manifest_sha256,
                                                              m_request.plan.node_args,
                                                              [this](const std::string& line) { say(line); });
                                 }));
        }
        for (auto& [name, future] : running) {
            const NodeCall call = future.get();
            if (call.exit_code == 0) {
                say("staged on " + name);
                record(name, NodeStep::staged);
                show(name, NodeShown::staged);
            } else {
                show(name, NodeShown::failed);
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
    const auto limit = std::chrono::seconds(m_inv.rollout.gate_timeout_seconds);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    show(name, NodeShown::checking);
    NodeReport r;
    for (;;) {
        r = probe_node(node(name), m_transport);
        if (r.healthy && r.synced && r.version == m_manifest.version.str()) {
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            failed(name, std::string(r.healthy ? "not synced" : "not healthy") + " within " +
                             std::to_string(limit.count()) + " s after its upgrade");
            show(name, NodeShown::failed);
            return false;
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (m_inv.rollout.stabilize_seconds > 0) {
        show(name, NodeShown::stabilizing);
        say("  " + name + ": stabilizing for " + std::to_string(m_inv.rollout.stabilize_seconds) + " s");
        std::this_thread::sleep_for(std::chrono::seconds(m_inv.rollout.stabilize_seconds));
        r = probe_node(node(name), m_transport);
        if (!r.healthy) {
            failed(name, "unhealthy after stabilizing");
            show(name, NodeShown::failed);
            return false;
        }
    }
    return true;
}

// Upgrades the nodes of one batch at once (they are within max_unavailable together), each
// through its own apply and gate.
void Rollout::upgrade_batch(const std::vector<std::string>& nodes) {
    if (nodes.size() == 1) {
        (void)upgrade(nodes.front());
        return;
    }
    std::vector<std::future<bool>> running;
    for (const auto& name : nodes) {
        running.push_back(std::async(std::launch::async, [this, &name] { return upgrade(name); }));
    }
    std::exception_ptr first_error;
    for (auto& f : running) {
        try {
            (void)f.get();
        } catch (...) {
            if (!first_error) {
                first_error = std::current_exception();
            }
        }
    }
    if (first_error) {
        std::rethrow_exception(first_error);
    }
}

bool Rollout::upgrade(const std::string& name) {
    say("upgrading " + name);
    record(name, NodeStep::applying);
    show(name, NodeShown::applying);
    const std::string bundle = m_transport.bundle_on_node(node(name), m_request.plan.bundle, m_request.plan.manifest_sha256);
    const NodeCall call =
        m_transport.call(node(name), with({"apply", bundle, "--json", "-q"}, m_request.plan.node_args), k_apply_timeout);
    if (call.exit_code != 0) {
        const std::string why = failure_of(call);
        if (call.exit_code == 5) {
            failed(name, "failed and rolled back: " + why);
            show(name, NodeShown::rolled_back);
        } else {
            show(name, NodeShown::failed);
            // Not rolled back: the node may be between versions; nothing more is touched. The
            // journal keeps it `applying`, so that the next run finds out how it ended.
            const std::lock_guard lock(m_lock);
            outcome(name, NodeOutcome::Result::failed, "failed: " + why);
            m_report.result = RolloutReport::Result::failed;
        }
        return false;
    }
    record(name, NodeStep::applied);
    if (!gate(name)) {
        return false;
    }
    outcome(name, NodeOutcome::Result::upgraded, "");
    record(name, NodeStep::upgraded);
    show(name, NodeShown::upgraded);
    say("  " + name + ": " + m_manifest.version.str() + ", healthy" +
          (m_manifest.procedure.cluster.synced.empty() ? "" : ", synced"));
    return true;
}

bool Rollout::step_down(const std::string& leader) {
    m_say("stepping down the leader " + leader);
    m_journal.decision(m_record.id, "step_down", leader);
    const NodeCall call = m_transport.call(node(leader), {"step-down", "--json"}, std::chrono::seconds(180));
    if (call.exit_code != 0) {
        m_report.message = "the leader " + leader + " did not step down: " + failure_of(call);
        return false;
    }
    applier::crash_point("rollout:stepped_down:" + leader);
    const auto limit = std::chrono::seconds(m_inv.rollout.leader_timeout_seconds);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        for (const auto& n : m_inv.nodes) {
            if (n.name != leader && probe_node(n, m_transport).role == Role::leader) {
                m_views[leader].role = Role::follower;
                m_views[n.name].role = Role::leader;
                show(leader, m_views[leader].step);
                show(n.name, m_views[n.name].step);
                m_say("  leadership moved to " + n.name);
                m_journal.decision(m_record.id, "leadership_moved", n.name);
                return true;
            }
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    m_report.message = "leadership did not move from " + leader + " within " + std::to_string(limit.count()) +
                       " s (leader_timeout); the leader was not upgraded";
    return false;
}

// The pause or the wait after the canaries; false when the rollout pauses here.
bool Rollout::past_canaries(bool pause) {
    if (pause && !m_record.continued) {
        m_report.result = RolloutReport::Result::paused;
        m_report.message = "paused after the canaries; check them, then run the same command with --continue";
        return false;
    }
    if (m_inv.rollout.after_canary_seconds) {
        if (!m_record.wait_until) {
            m_record.wait_until = now() + static_cast<UnixTime>(*m_inv.rollout.after_canary_seconds);
            m_journal.set_wait_until(m_record.id, *m_record.wait_until);
        }
        const UnixTime left = *m_record.wait_until - now();
        if (left > 0) {
            m_say("waiting " + std::to_string(left) + " s after the canaries");
            std::this_thread::sleep_for(std::chrono::seconds(left));
        }
    }
    return true;
}

// No node is stopped outside the inventory's window.
bool Rollout::inside_window() {
    const auto& window = m_inv.rollout.window;
    if (!window) {
        return true;
    }
    const UnixTime t = now();
    if (window->contains(static_cast<int>((t % 86400) / 60))) {
        return true;
    }
    const auto clock = [](int minute) {
        char text[16];
        std::snprintf(text, sizeof text, "%02d:%02d", minute / 60, minute % 60);
        return std::string(text);
    };
    m_report.result = RolloutReport::Result::paused;
    m_report.message = "outside the window " + clock(window->start) + "-" + clock(window->end) +
                       " UTC, when no node may be stopped; run the same command again inside it";
    return false;
}

bool Rollout::over_budget() {
    if (m_report.failures <= m_inv.rollout.max_failures) {
        return false;
    }
    m_report.result = RolloutReport::Result::stopped;
    m_report.message = std::to_string(m_report.failures) + " node(s) failed, over the budget of " +
                       std::to_string(m_inv.rollout.max_failures) + " (max_failures): the rollout stopped";
    return true;
}

RolloutReport Rollout::finish(RolloutReport::Result result, const std::string& message) {
    m_report.result = result;
    if (!message.empty()) {
        m_report.message = message;
    }
    for (const auto& n : m_inv.nodes) {
        m_report.after.push_back(probe_node(n, m_transport));
    }
    // Done and stopped close the rollout: a later run starts another; so does a refusal before
    // any node was touched. Paused, failed and other refused ones stay open for the next run of
    // the same bundle to carry on.
    const bool untouched = std::all_of(m_record.nodes.begin(), m_record.nodes.end(), [](const auto& n) {
        return n.second == NodeStep::none || n.second == NodeStep::staged;
    });
    const bool close = result == RolloutReport::Result::done || result == RolloutReport::Result::stopped ||
                       (result == RolloutReport::Result::refused && untouched);
    m_journal.finish(m_record.id, result_name(result), m_report.message, close);
    return m_report;
}

RolloutReport Rollout::run() {
    for (const auto& n : m_inv.nodes) {
        m_report.nodes.push_back({n.name, NodeOutcome::Result::not_reached, ""});
    }
    open_record();
    for (const auto& n : m_inv.nodes) {
        show(n.name, shown_of(step_of(n.name)));
    }
    if (!recover()) {
        return finish(RolloutReport::Result::failed, "a node left half-way by the last run could not be finished");
    }
    if (over_budget()) {
        return finish(m_report.result, m_report.message);
    }
    m_report.plan = plan_cluster(m_inv, m_manifest, m_request.plan, m_transport);
    show_plan();
    if (m_report.plan.refusals.empty() && m_report.plan.schedule) {
        std::vector<std::string> pending;
        for (const auto& b : m_report.plan.schedule->batches) {
            pending.insert(pending.end(), b.nodes.begin(), b.nodes.end());
        }
        (void)stage_everywhere(pending);
        applier::crash_point("rollout:staged_everywhere");
        const bool unplanned = std::any_of(m_report.plan.nodes.begin(), m_report.plan.nodes.end(),
                                           [](const NodeReport& n) { return n.plan == "not_staged"; });
        if (m_report.plan.refusals.empty() && unplanned) {
            // Nodes that could not plan before the bundle was there: ask them all again.
            m_report.plan = plan_cluster(m_inv, m_manifest, m_request.plan, m_transport);
        }
    }
    if (!m_report.plan.refusals.empty() || !m_report.plan.schedule) {
        for (const auto& r : m_report.plan.refusals) {
            m_journal.decision(m_record.id, "refusal", r);
        }
        return finish(RolloutReport::Result::refused, "refused before any service stopped");
    }
    const Schedule& schedule = *m_report.plan.schedule;
    for (const auto& s : schedule.skipped) {
        switch (step_of(s)) {
        case NodeStep::upgraded:
            outcome(s, NodeOutcome::Result::upgraded, "");
            show(s, NodeShown::upgraded);
            break;
        case NodeStep::failed:
            outcome(s, NodeOutcome::Result::failed, "on the new version, but failed its gate in this rollout");
            show(s, NodeShown::failed);
            break;
        default:
            outcome(s, NodeOutcome::Result::skipped, "already on " + m_manifest.version.str());
            show(s, NodeShown::skipped);
        }
    }
    // Canaries that went in an earlier run are on the new version now: the pause is behind.
    const bool canaries_done = !schedule.skipped.empty();
    const bool pause = !m_inv.rollout.after_canary_seconds && (m_inv.rollout.canary > 0 || !m_inv.rollout.canary_group.empty());
    const bool waits = pause || m_inv.rollout.after_canary_seconds;
    if (canaries_done && waits && !schedule.batches.empty() && !past_canaries(pause)) {
        return finish(m_report.result, m_report.message);
    }
    bool after_canaries = canaries_done;
    for (const auto& batch : schedule.batches) {
        if (batch.kind != Batch::Kind::canary && !after_canaries) {
            after_canaries = true;
            if (waits && !past_canaries(pause)) {
                return finish(m_report.result, m_report.message);
            }
        }
        if (!inside_window()) {
            return finish(m_report.result, m_report.message);
        }
        m_say(batch.reason);
        m_journal.begin_batch(m_record.id, batch.reason, batch.nodes);
        m_record.batch = batch.nodes;
        if (batch.kind == Batch::Kind::leader && !m_manifest.procedure.cluster.step_down.empty() &&
            !step_down(batch.nodes.front())) {
            return finish(RolloutReport::Result::stopped, m_report.message);
        }
        upgrade_batch(batch.nodes);
        if (m_report.result == RolloutReport::Result::failed) {
            return finish(RolloutReport::Result::failed, "a node failed and was not rolled back: the rollout stopped");
        }
        if (over_budget()) {
            return finish(m_report.result, m_report.message);
        }
    }
    return finish(RolloutReport::Result::done, "");
}

} // namespace

RolloutReport run_rollout(const schema::Inventory& inventory, const schema::Manifest& m, const RolloutRequest& request,
                          Transport& transport, Journal& journal, const std::function<void(const std::string&)>& say,
                          const std::function<void(const NodeView&)>& show) {
    return Rollout(inventory, m, request, transport, journal, say, show).run();
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
