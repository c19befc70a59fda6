#pragma once

// The rolling upgrade itself: stage on every node, refuse before any service stops, then the
// canaries, the batches and the leader after a step-down, with a health, sync and
// stabilisation gate after each node and a failure budget over the whole rollout. Re-running
// it is idempotent: nodes already on the new version are skipped.

#include "applier/rollout/board.hpp"
#include "applier/rollout/cluster_plan.hpp"
#include "applier/rollout/journal.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace ferry::rollout {

struct RolloutRequest {
    ClusterPlanRequest plan;           // the bundle and what each node's commands are given
    bool continue_after_pause = false; // --continue: go past the canaries' pause
};

// What happened to one node.
struct NodeOutcome {
    enum class Result { upgraded, skipped, failed, not_reached };
    std::string name;
    Result result = Result::not_reached;
    std::string detail;
};

struct RolloutReport {
    enum class Result { done, paused, refused, stopped, failed };
    Result result = Result::done;
    ClusterPlan plan;
    std::vector<NodeOutcome> nodes;
    std::vector<NodeReport> after; // each node as it is at the end
    std::string message;           // why it paused, was refused or stopped
    std::uint64_t failures = 0;
    std::int64_t rollout = 0;      // its number in the journal
    bool resumed = false;          // it carried on a rollout an earlier run left open
};

// Runs the rollout of the bundle whose verified manifest is M over INVENTORY through TRANSPORT,
// recording every step in JOURNAL first: a rollout of the same bundle left open there (paused,
// refused, failed, or its coordinator killed) is carried on, nodes left half-way first; one of
// another bundle is closed as superseded. SAY receives a line of progress per step, SHOW each
// node's view whenever it changes.
[[nodiscard]] RolloutReport run_rollout(const schema::Inventory& inventory, const schema::Manifest& m,
                                        const RolloutRequest& request, Transport& transport, Journal& journal,
                                        const std::function<void(const std::string&)>& say,
                                        const std::function<void(const NodeView&)>& show = {});

// "done", "paused", ... (the JSON result).
[[nodiscard]] std::string result_name(RolloutReport::Result result);
// "upgraded", "skipped", "failed", "not_reached".
[[nodiscard]] std::string result_name(NodeOutcome::Result result);
// The documented exit code of a rollout that ended so: 0, 8 (paused), 4, 5, 6.
[[nodiscard]] int exit_code(RolloutReport::Result result);

} // namespace ferry::rollout
