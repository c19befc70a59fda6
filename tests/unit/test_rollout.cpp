#include "applier/rollout/schedule.hpp"
#include "core/error.hpp"
#include "manifest-schema/inventory.hpp"
#include "manifest-schema/procedure.hpp"
#include "manifest-schema/yaml_fields.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

using namespace ferry;
using namespace ferry::schema;
using namespace ferry::rollout;

namespace {

const std::string k_inventory = R"(cluster: greeters
nodes:
  - {name: node-1, root: /srv/n1/root, state_dir: /srv/n1/state, vars: {GREETER_PORT: "18081"}}
  - {name: node-2, root: /srv/n2/root, state_dir: /srv/n2/state, groups: [canaries]}
  - {name: node-3, root: n3/root, state_dir: n3/state}
rollout:
  order: leader-last
  canary: 1
  after_canary: pause
  max_unavailable: 1
  max_failures: 1
  stabilize: 10s
  window: {start: "22:00", end: "04:00"}
)";

// K_INVENTORY with the line holding FROM replaced by TO.
std::string edited(const std::string& from, const std::string& to) {
    std::string text = k_inventory;
    const auto pos = text.find(from);
    REQUIRE(pos != std::string::npos);
    text.replace(pos, from.size(), to);
    return text;
}

Inventory cluster(std::size_t n, MaxUnavailable max, Order order, std::uint64_t canary) {
    Inventory inv;
    inv.cluster = "c";
    for (std::size_t i = 0; i < n; ++i) {
        InventoryNode node;
        node.name = "n" + std::to_string(i);
        inv.nodes.push_back(node);
    }
    inv.rollout.max_unavailable = max;
    inv.rollout.order = order;
    inv.rollout.canary = canary;
    return inv;
}

// Checks every promise of a schedule: each pending node exactly once, skipped ones never,
// never more out at once than allowed, canaries before the other followers, the leader alone
// and last (first with leader-first).
void check_schedule(const Inventory& inv, const std::vector<NodeState>& states, const Schedule& s) {
    std::map<std::string, int> seen;
    std::uint64_t unhealthy = 0;
    for (const auto& st : states) {
        unhealthy += st.healthy ? 0 : 1;
    }
    std::map<std::string, const NodeState*> by_name;
    for (const auto& st : states) {
        by_name[st.name] = &st;
    }
    bool after_canaries = false;
    for (std::size_t i = 0; i < s.batches.size(); ++i) {
        const Batch& b = s.batches[i];
        REQUIRE_FALSE(b.nodes.empty());
        CHECK_FALSE(b.reason.empty());
        std::uint64_t down = unhealthy;
        for (const auto& n : b.nodes) {
            ++seen[n];
            down += by_name.at(n)->healthy ? 1 : 0;
        }
        CHECK(down <= s.allowed);
        if (b.kind == Batch::Kind::batch) {
            after_canaries = true;
        }
        if (b.kind == Batch::Kind::canary) {
            CHECK_FALSE(after_canaries);
        }
        if (b.kind == Batch::Kind::leader) {
            CHECK(b.nodes.size() == 1);
            CHECK(b.nodes.front() == s.leader);
            const std::size_t where =
                inv.rollout.order == Order::leader_first ? 0 : s.batches.size() - 1;
            CHECK(i == where);
        }
    }
    for (const auto& st : states) {
        const bool upgraded =
            std::find(s.skipped.begin(), s.skipped.end(), st.name) != s.skipped.end();
        CHECK(seen[st.name] == (upgraded ? 0 : 1));
    }
    if (inv.rollout.max_unavailable.kind == MaxUnavailable::Kind::bft) {
        const std::uint64_t n = inv.nodes.size();
        CHECK(3 * s.allowed + 1 <= n);
    }
}

} // namespace

TEST_CASE("schema::parse_inventory") {
    const Inventory inv = parse_inventory(k_inventory, "/site/inventory.yaml");
    CHECK(inv.cluster == "greeters");
    REQUIRE(inv.nodes.size() == 3);
    CHECK(inv.nodes[0].vars.at("GREETER_PORT") == "18081");
    CHECK(inv.nodes[2].root == "/site/n3/root");
    CHECK(inv.groups.at("canaries") == std::vector<std::string>{"node-2"});
    CHECK(inv.rollout.order == Order::leader_last);
    CHECK(inv.rollout.canary == 1);
    CHECK_FALSE(inv.rollout.after_canary_seconds);
    CHECK(inv.rollout.max_failures == 1);
    CHECK(inv.rollout.stabilize_seconds == 10);
    CHECK(inv.rollout.leader_timeout_seconds == 60);
    CHECK(inv.rollout.gate_timeout_seconds == 120);
    REQUIRE(inv.rollout.window);
    CHECK(inv.rollout.window->contains(23 * 60));
    CHECK(inv.rollout.window->contains(60));
    CHECK_FALSE(inv.rollout.window->contains(12 * 60));

    SUBCASE("bad input names the file, the line and the key") {
        const auto refused = [](const std::string& text, const std::string& message) {
            CHECK_THROWS_WITH_AS(parse_inventory(text, "inv.yaml"),
                                 doctest::Contains(message.c_str()), Error);
        };
        refused(edited("  order: leader-last", "  ordr: leader-last"),
                "inv.yaml:7: unknown key \"ordr\" in rollout (did you mean \"order\"?)");
        refused(edited("name: node-2,", "name: node-1,"),
                "inv.yaml:4: nodes[1].name: node name \"node-1\" is listed twice");
        refused(edited("root: /srv/n2/root", "root: /srv/n1/root"),
                "nodes[1].root: /srv/n1/root is also the root of node node-1");
        refused(edited("state_dir: /srv/n2/state", "state_dir: /srv/n1/state"),
                "nodes[1].state_dir: /srv/n1/state is also the state folder of node node-1");
        refused(edited("max_unavailable: 1", "max_unavailable: 0"),
                "rollout.max_unavailable: must be between 1 and the number of nodes (3)");
        refused(edited("max_unavailable: 1", "max_unavailable: 4"),
                "rollout.max_unavailable: must be between 1 and the number of nodes (3)");
        refused(edited("max_unavailable: 1", "max_unavailable: bft"),
                "bft lets no node of 3 be out");
        refused(edited("max_unavailable: 1", "max_unavailable: 150%"),
                "a percentage must be between 1% and 100%");
        refused(edited("end: \"04:00\"", "end: \"22:00\""),
                "rollout.window.end: the window never opens");
        refused(edited("order: leader-last", "order: leader-lst"),
                "unknown order \"leader-lst\" (did you mean \"leader-last\"?)");
        refused(edited("{name: node-3,", "{name: node-3, transport: sssh,"),
                "nodes[2].transport: unknown transport \"sssh\" (did you mean \"ssh\"?)");
        refused(edited("{name: node-3,", "{name: node-3, host: n3,"),
                "nodes[2].host: is for the ssh transport; this node is local");
        const std::string ssh = "{name: node-3, transport: ssh, host: n3.site, identity: id, known_hosts: kh}";
        refused(edited("{name: node-3, root: n3/root, state_dir: n3/state}", ssh.substr(0, ssh.size() - 1) + ", root: n3}"),
                "nodes[2].root: n3 is not an absolute path on the node");
        refused(edited("{name: node-3, root: n3/root, state_dir: n3/state}", ssh.substr(0, ssh.size() - 1) + ", port: 70000}"),
                "nodes[2].port: 70000 is not a port (1 to 65535)");
        refused(edited("{name: node-3, root: n3/root, state_dir: n3/state}", "{name: node-3, transport: ssh, identity: id, known_hosts: kh}"),
                "inv.yaml:5: missing key \"nodes[2].host\"");
        refused(edited("{name: node-3, root: n3/root, state_dir: n3/state}", "{name: node-3, transport: ssh, host: \"-oProxyCommand=x\", identity: id, known_hosts: kh}"),
                "nodes[2].host: \"-oProxyCommand=x\" is not a host name or address");
        refused(edited("canary: 1", "canary: friends"),
                "rollout.canary: \"friends\" is neither a count nor a group");
        refused(edited("stabilize: 10s", "stabilize: soon"),
                "rollout.stabilize: \"soon\" is not a duration");
        refused(edited("stabilize: 10s", "stabilize: 10s\n  leader_timeout: 0s"),
                "rollout.leader_timeout: must be longer than 0s");
        refused(edited("stabilize: 10s", "stabilize: 10s\n  gate_timeout: later"),
                "rollout.gate_timeout: \"later\" is not a duration");
        refused(edited("GREETER_PORT:", "1PORT:"), "\"1PORT\" is not an environment variable name");
    }
}

TEST_CASE("schema::parse_inventory: ssh nodes") {
    const Inventory inv = parse_inventory(edited("{name: node-3, root: n3/root, state_dir: n3/state}",
                                                 "{name: node-3, transport: ssh, host: n3.site, port: 2222, user: ferry, "
                                                 "identity: keys/id, known_hosts: /site/known_hosts, root: /srv/n3}"),
                                          "/site/inventory.yaml");
    const InventoryNode& n = inv.nodes[2];
    CHECK(n.transport == Transport::ssh);
    CHECK(n.host == "n3.site");
    CHECK(n.port == 2222);
    CHECK(n.user == "ferry");
    CHECK(n.identity == "/site/keys/id");
    CHECK(n.known_hosts == "/site/known_hosts");
    CHECK(n.applier == "ferry-applier");
    CHECK(n.root == "/srv/n3");
    CHECK(n.state_dir == "/var/lib/ferry");
    // Another host may use the same folders as a local node or another host.
    CHECK_NOTHROW((void)parse_inventory(edited("{name: node-3, root: n3/root, state_dir: n3/state}",
                                               "{name: node-3, transport: ssh, host: n3.site, identity: id, "
                                               "known_hosts: kh, root: /srv/n1/root, state_dir: /srv/n1/state}"),
                                        "/site/inventory.yaml"));
}

TEST_CASE("schema::load_inventory reads the example the JSON Schema accepts") {
    const Inventory inv = load_inventory(std::filesystem::path(FERRY_SOURCE_DIR) / "tests/schema/example-inventory.yaml");
    CHECK(inv.nodes.size() == 3);
    CHECK(inv.rollout.canary_group == "canaries");
    CHECK(inv.rollout.max_unavailable.allowed(3) == 1);
    CHECK(inv.groups.at("edge") == std::vector<std::string>{"node-3"});
    CHECK(inv.rollout.max_failures == 1);
    CHECK(inv.rollout.leader_timeout_seconds == 120);
    CHECK(inv.rollout.gate_timeout_seconds == 300);
}

TEST_CASE("rollout::make_schedule") {
    const Inventory inv = parse_inventory(k_inventory, "/site/inventory.yaml");
    std::vector<NodeState> states = {{"node-1", "1.0.0", Role::leader, true},
                                     {"node-2", "1.0.0", Role::follower, true},
                                     {"node-3", "1.0.0", Role::follower, true}};
    SUBCASE("canary, then followers one at a time, the leader last") {
        const Schedule s = make_schedule(inv, states, "2.0.0");
        REQUIRE(s.batches.size() == 3);
        CHECK(s.batches[0].kind == Batch::Kind::canary);
        CHECK(s.batches[0].nodes == std::vector<std::string>{"node-2"});
        CHECK(s.batches[1].nodes == std::vector<std::string>{"node-3"});
        CHECK(s.batches[2].kind == Batch::Kind::leader);
        CHECK(s.batches[2].reason == "the leader node-1, last, alone, after a step-down");
        CHECK(s.batches[1].reason == "followers: node-3 (at most 1 out at once)");
    }
    SUBCASE("already upgraded nodes are skipped") {
        states[1].version = "2.0.0";
        const Schedule s = make_schedule(inv, states, "2.0.0");
        CHECK(s.skipped == std::vector<std::string>{"node-2"});
        REQUIRE(s.batches.size() == 2);
        CHECK(s.batches[0].nodes == std::vector<std::string>{"node-3"});
        CHECK(s.batches[0].kind == Batch::Kind::canary);
    }
    SUBCASE("two leaders are refused") {
        states[2].role = Role::leader;
        CHECK_THROWS_WITH_AS(make_schedule(inv, states, "2.0.0"),
                             "nodes node-1, node-3 all say they are the leader", Error);
    }
    SUBCASE("an unhealthy node already spends the budget") {
        states[2].healthy = false;
        CHECK_THROWS_WITH_AS(
            make_schedule(inv, states, "2.0.0"),
            doctest::Contains("1 node(s) are unhealthy already, and max_unavailable 1 lets 1 of 3"),
            Error);
    }
}

TEST_CASE("rollout::make_schedule over every cluster size and max_unavailable") {
    std::mt19937 random(20261201);
    const std::vector<Order> orders = {Order::leader_last, Order::leader_first, Order::inventory};
    std::size_t schedules = 0;
    for (std::size_t n = 1; n <= 500; n += (n < 40 ? 1 : 37)) {
        std::vector<MaxUnavailable> maxes = {{MaxUnavailable::Kind::bft, 0}};
        for (std::uint64_t k = 1; k <= n; k += (k < 10 ? 1 : n / 7 + 1)) {
            maxes.push_back({MaxUnavailable::Kind::count, k});
        }
        for (const std::uint64_t p : {1, 10, 25, 33, 50, 100}) {
            maxes.push_back({MaxUnavailable::Kind::percent, p});
        }
        for (const auto& max : maxes) {
            if (max.allowed(n) == 0) {
                continue; // bft below 4 nodes: refused by the inventory
            }
            const Order order = orders[schedules % orders.size()];
            const Inventory inv = cluster(n, max, order, random() % (n > 1 ? n : 1));
            std::vector<NodeState> states;
            const std::size_t leader = random() % n;
            std::uint64_t unhealthy = 0;
            for (std::size_t i = 0; i < n; ++i) {
                NodeState st{inv.nodes[i].name, random() % 5 == 0 ? "2.0.0" : "1.0.0",
                             i == leader ? Role::leader : Role::follower, true};
                // Some nodes are out already, while that still leaves room.
                if (random() % 11 == 0 && unhealthy + 1 < max.allowed(n)) {
                    st.healthy = false;
                    ++unhealthy;
                }
                states.push_back(st);
            }
            const Schedule s = make_schedule(inv, states, "2.0.0");
            check_schedule(inv, states, s);
            ++schedules;
        }
    }
    CHECK(schedules > 900);
}

TEST_CASE("schema::parse_procedure cluster") {
    const auto parse = [](const std::string& text) {
        const Fields top(load_yaml(text, "spec.yaml", ErrorKind::input), "spec.yaml", "", {"procedure"}, ErrorKind::input);
        return parse_procedure(top);
    };
    const Procedure p = parse(R"(procedure:
  cluster:
    role: ["{root}/usr/bin/greeterctl", "role"]
    step_down: ["{root}/usr/bin/greeterctl", "step-down"]
    synced: ["{root}/usr/bin/greeterctl", "synced"]
    peers: ">=1.0.0 <3.0.0"
)");
    CHECK(p.cluster.role == Command{"{root}/usr/bin/greeterctl", "role"});
    CHECK(p.cluster.step_down.size() == 2);
    CHECK(p.cluster.peers == ">=1.0.0 <3.0.0");
    SUBCASE("emitted and read again, the same") {
        YAML::Emitter out;
        out << YAML::BeginMap;
        emit_procedure(out, p);
        out << YAML::EndMap;
        const Procedure again = parse(out.c_str());
        CHECK(again.cluster.role == p.cluster.role);
        CHECK(again.cluster.synced == p.cluster.synced);
        CHECK(again.cluster.peers == p.cluster.peers);
    }
    SUBCASE("bad input") {
        CHECK_THROWS_WITH_AS(parse("procedure:\n  cluster:\n    peers: \"newer\"\n"),
                             doctest::Contains("procedure.cluster.peers: \"newer\" is not a version range"), Error);
        CHECK_THROWS_WITH_AS(parse("procedure:\n  cluster:\n    step_down: [x]\n"),
                             doctest::Contains("step_down: needs cluster.role"), Error);
        CHECK_THROWS_WITH_AS(parse("procedure:\n  cluster:\n    rol: [x]\n"),
                             doctest::Contains("unknown key \"rol\" in procedure.cluster (did you mean \"role\"?)"), Error);
    }
}
