// The coordinator over a simulated cluster of up to 500 nodes: every node upgraded exactly once,
// canaries first, the leader last after its step-down, never more out at once than allowed,
// the failure budget, and a coordinator that stops dead carried on by the next run.

#include "applier/rollout/journal.hpp"
#include "applier/rollout/rollout.hpp"
#include "applier/rollout/sim_transport.hpp"
#include "core/error.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

using namespace ferry;
using namespace ferry::rollout;

namespace {

RolloutRequest sim_request() {
    RolloutRequest r;
    r.plan.bundle = "/sim/svc-2.0.0.ferry";
    r.plan.manifest_sha256 = std::string(64, 'a');
    return r;
}

const auto quiet = [](const std::string&) {};

} // namespace

TEST_CASE("rollout over a simulated cluster of 500 nodes") {
    test::Scratch scratch;
    const schema::Inventory inv = simulated_inventory(500, {schema::MaxUnavailable::Kind::percent, 10}, 5);
    const schema::Manifest m = simulated_manifest("2.0.0");
    SimTransport sim(node_names(inv), "1.0.0", "2.0.0");
    Journal journal(scratch / "journal");
    const RolloutReport r = run_rollout(inv, m, sim_request(), sim, journal, quiet);

    CHECK(r.result == RolloutReport::Result::done);
    const auto nodes = sim.nodes();
    for (const auto& [name, n] : nodes) {
        CHECK(n.version == "2.0.0");
        CHECK(n.applies == 1);
        CHECK(n.stages == 1);
    }
    const auto order = sim.apply_order();
    REQUIRE(order.size() == 500);
    CHECK(order.back() == "n0"); // the leader, last
    CHECK(nodes.at("n0").step_downs == 1);
    // The five canaries, the first five followers in inventory order, went first (at once).
    CHECK(std::set<std::string>(order.begin(), order.begin() + 5) ==
          std::set<std::string>{"n1", "n2", "n3", "n4", "n5"});
    // A batch's nodes go at once, never more than max_unavailable (10%: 50).
    CHECK(sim.most_out_at_once() <= 50);
    CHECK(std::all_of(r.nodes.begin(), r.nodes.end(),
                      [](const NodeOutcome& o) { return o.result == NodeOutcome::Result::upgraded; }));

    SUBCASE("run again: nothing is applied twice") {
        const RolloutReport again = run_rollout(inv, m, sim_request(), sim, journal, quiet);
        CHECK(again.result == RolloutReport::Result::done);
        CHECK(sim.apply_order().size() == 500);
        CHECK(again.rollout == r.rollout + 1);
    }
}

TEST_CASE("rollout over a simulated cluster: the failure budget") {
    test::Scratch scratch;
    schema::Inventory inv = simulated_inventory(50, {schema::MaxUnavailable::Kind::count, 3}, 1);
    inv.rollout.max_failures = 2;
    SimTransport sim(node_names(inv), "1.0.0", "2.0.0");
    for (const auto* bad : {"n10", "n20", "n30"}) {
        sim.fail_apply(bad);
    }
    Journal journal(scratch / "journal");
    std::map<std::string, NodeView> shown; // each node as a terminal would show it last
    const auto show = [&](const NodeView& v) { shown[v.name] = v; };
    const RolloutReport r = run_rollout(inv, simulated_manifest("2.0.0"), sim_request(), sim, journal, quiet, show);
    CHECK(r.result == RolloutReport::Result::stopped);
    CHECK(r.failures == 3);
    CHECK(r.message == "3 node(s) failed, over the budget of 2 (max_failures): the rollout stopped");
    const auto nodes = sim.nodes();
    // n30's batch (n29, n30, n31 after the canary n1, three at once) ran to its end; the third
    // failure stops the rollout there: no node after it touched, the leader n0 not at all.
    CHECK(nodes.at("n29").applies == 1);
    CHECK(nodes.at("n30").applies == 1);
    CHECK(nodes.at("n31").applies == 1);
    CHECK(nodes.at("n32").applies == 0);
    CHECK(nodes.at("n49").applies == 0);
    CHECK(nodes.at("n0").applies == 0);
    CHECK(nodes.at("n0").step_downs == 0);
    CHECK(nodes.at("n0").leader);
    // What a terminal shows at the end: each node's step, its role and version.
    REQUIRE(shown.size() == 50);
    CHECK(shown.at("n30").step == NodeShown::rolled_back);
    CHECK(shown.at("n31").step == NodeShown::upgraded);
    CHECK(shown.at("n31").version == "2.0.0");
    CHECK(shown.at("n32").step == NodeShown::staged);
    CHECK(shown.at("n32").version == "1.0.0");
    CHECK(shown.at("n0").role == Role::leader);
    CHECK(shown_name(shown.at("n30").step) == "failed, rolled back");
}

TEST_CASE("rollout over a simulated cluster: a coordinator that stops dead is carried on") {
    test::Scratch scratch;
    const schema::Inventory inv = simulated_inventory(200, {schema::MaxUnavailable::Kind::count, 4}, 2);
    const schema::Manifest m = simulated_manifest("2.0.0");
    SimTransport sim(node_names(inv), "1.0.0", "2.0.0");
    std::int64_t first = 0;
    for (const std::uint64_t stop_at : {3u, 60u, 199u}) {
        sim.crash_after_applies(stop_at);
        Journal journal(scratch / "journal"); // each run its own, as a new process would
        CHECK_THROWS_AS((void)run_rollout(inv, m, sim_request(), sim, journal, quiet), Error);
        const auto open = journal.open_rollout();
        REQUIRE(open);
        if (first == 0) {
            first = open->id;
        }
        CHECK(open->id == first);
    }
    sim.crash_after_applies(0);
    Journal journal(scratch / "journal");
    const RolloutReport r = run_rollout(inv, m, sim_request(), sim, journal, quiet);
    CHECK(r.result == RolloutReport::Result::done);
    CHECK(r.resumed);
    CHECK(r.rollout == first);
    for (const auto& [name, n] : sim.nodes()) {
        CHECK(n.version == "2.0.0");
        CHECK(n.applies == 1); // the journal sent no node twice
        CHECK(n.stages == 1);
    }
    CHECK(sim.apply_order().back() == "n0");
    const std::string chain = applier::check_audit_chain(journal.audit_records());
    CHECK(chain.empty());
}
