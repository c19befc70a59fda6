// ferry-bench-rollout: the rolling coordinator's own cost per node, over a simulated cluster
// whose nodes answer at no cost (scripts/bench-rollout.sh runs it).
//
//   ferry-bench-rollout NODES JOURNAL_DIR
//
// Runs one rollout of NODES nodes (canary 5, max_unavailable 10%, the leader last) with its
// journal in JOURNAL_DIR, then the same number of transport calls made directly (the baseline:
// what the simulated nodes themselves cost), and prints both and the coordinator's overhead per
// node. It checks the batch logic at that size and exits 1 when a promise is broken.

#include "applier/rollout/journal.hpp"
#include "applier/rollout/rollout.hpp"
#include "applier/rollout/sim_transport.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

using namespace ferry;
using namespace ferry::rollout;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: ferry-bench-rollout NODES JOURNAL_DIR\n");
        return 2;
    }
    const std::size_t size = std::strtoul(argv[1], nullptr, 10);
    const std::filesystem::path dir = argv[2];
    std::filesystem::remove_all(dir);

    const schema::Inventory inv = simulated_inventory(size, {schema::MaxUnavailable::Kind::percent, 10}, 5);
    const std::vector<std::string> names = node_names(inv);
    const schema::Manifest m = simulated_manifest("2.0.0");
    RolloutRequest request;
    request.plan.bundle = "/bench/svc-2.0.0.ferry";
    request.plan.manifest_sha256 = std::string(64, 'b');

    using clock = std::chrono::steady_clock;
    SimTransport sim(names, "1.0.0", "2.0.0");
    const auto t0 = clock::now();
    RolloutReport report;
    {
        Journal journal(dir);
        report = run_rollout(inv, m, request, sim, journal, [](const std::string&) {});
    }
    const double rollout_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    const std::uint64_t calls = sim.calls();

    // The baseline: as many calls straight to the simulated nodes, without the coordinator.
    SimTransport bare(names, "1.0.0", "2.0.0");
    const auto t1 = clock::now();
    for (std::uint64_t i = 0; i < calls; ++i) {
        (void)bare.call(inv.nodes[i % size], {"status", "--json", "--probe"}, std::chrono::seconds(1));
    }
    const double baseline_ms = std::chrono::duration<double, std::milli>(clock::now() - t1).count();

    // The batch logic at this size.
    bool ok = report.result == RolloutReport::Result::done;
    for (const auto& [name, n] : sim.nodes()) {
        ok = ok && n.applies == 1 && n.version == "2.0.0";
    }
    const auto order = sim.apply_order();
    ok = ok && order.size() == size && order.back() == "n0" && sim.most_out_at_once() <= inv.rollout.max_unavailable.allowed(size);

    const double per_node = (rollout_ms - baseline_ms) / static_cast<double>(size);
    std::printf("nodes                      %zu\n", size);
    std::printf("journal                    %s\n", dir.c_str());
    std::printf("rollout                    %.1f ms (%llu transport calls)\n", rollout_ms,
                static_cast<unsigned long long>(calls));
    std::printf("baseline (calls alone)     %.1f ms\n", baseline_ms);
    std::printf("coordinator per node       %.3f ms (target under 5 ms)\n", per_node);
    std::printf("batch logic                %s (each node once, leader last, at most %llu out at once, seen %llu)\n",
                ok ? "ok" : "BROKEN", static_cast<unsigned long long>(inv.rollout.max_unavailable.allowed(size)),
                static_cast<unsigned long long>(sim.most_out_at_once()));
    return ok ? 0 : 1;
}
