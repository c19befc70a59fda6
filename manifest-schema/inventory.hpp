#pragma once

// The inventory: a site's cluster, its nodes and the rollout policy (docs/rolling.md).

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ferry::schema {

// How the coordinator reaches a node.
enum class Transport { local, ssh };

struct InventoryNode {
    std::string name;
    Transport transport = Transport::local;
    std::filesystem::path root;              // the node's install root (ssh: on the node, default /)
    std::filesystem::path state_dir;         // the node's state folder (ssh: on the node)
    // ssh: how to reach the node.
    std::string host;
    std::uint16_t port = 22;
    std::string user;                  // "" for the coordinator's own user name
    std::filesystem::path identity;    // the private key, on this machine
    std::filesystem::path known_hosts; // the node's host key, on this machine: nothing else is trusted
    std::string applier;               // ferry-applier on the node
    std::map<std::string, std::string> vars; // exported to the node's hooks and checks
    std::vector<std::string> groups;
    std::string where; // "inventory.yaml:7", for messages
};

// Which node goes when.
enum class Order { leader_last, leader_first, inventory };

// How many nodes may be out at once.
struct MaxUnavailable {
    enum class Kind { count, percent, bft };
    Kind kind = Kind::count;
    std::uint64_t value = 1; // the count, or the percentage

    // The number of nodes of a cluster of SIZE that may be out at once (0 when none may).
    [[nodiscard]] std::uint64_t allowed(std::uint64_t size) const;
    // "1", "25%" or "bft".
    [[nodiscard]] std::string str() const;
};

// A daily window, in UTC, outside which no node is started: [start, end) in minutes of the day;
// END below START crosses midnight.
struct Window {
    int start = 0;
    int end = 0;
    // Whether MINUTE (0..1439, UTC) is inside the window.
    [[nodiscard]] bool contains(int minute) const;
};

struct RolloutPolicy {
    Order order = Order::leader_last;
    std::uint64_t canary = 0;                          // how many nodes go first
    std::string canary_group;                          // or: the nodes of this group
    std::optional<std::uint64_t> after_canary_seconds; // none: pause for --continue
    MaxUnavailable max_unavailable;
    std::uint64_t max_failures = 0;
    std::uint64_t stabilize_seconds = 0;
    std::uint64_t leader_timeout_seconds = 60; // how long leadership may take to move after a step-down
    std::uint64_t gate_timeout_seconds = 120;  // how long an upgraded node may take to be healthy and synced
    std::optional<Window> window;
};

struct Inventory {
    std::string cluster;
    std::vector<InventoryNode> nodes;                       // in the inventory's order
    std::map<std::string, std::vector<std::string>> groups; // group → its nodes, in order
    RolloutPolicy rollout;
    std::filesystem::path file;

    // The node called NAME, or nullptr.
    [[nodiscard]] const InventoryNode* node(const std::string& name) const;
};

// Parses and checks TEXT; FILE names it in messages ("FILE:LINE: key: ...").
[[nodiscard]] Inventory parse_inventory(std::string_view text, const std::filesystem::path& file);

// Reads and parses the inventory at PATH.
[[nodiscard]] Inventory load_inventory(const std::filesystem::path& path);

// "leader-last", "leader-first", "inventory".
[[nodiscard]] std::string order_name(Order order);

} // namespace ferry::schema
