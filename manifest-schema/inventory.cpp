#include "inventory.hpp"

#include "core/defaults.hpp"
#include "core/fs.hpp"
#include "manifest-schema/yaml_fields.hpp"

#include <set>

namespace ferry::schema {

namespace fs = std::filesystem;

namespace {

constexpr ErrorKind k_kind = ErrorKind::input;

const std::vector<std::string_view> k_orders = {"leader-last", "leader-first", "inventory"};
const std::vector<std::string_view> k_transports = {"local", "ssh"};
const std::vector<std::string_view> k_node_keys = {"name", "transport", "root",        "state_dir",
                                                   "vars", "groups",    "host",        "port",
                                                   "user", "identity",  "known_hosts", "applier"};

bool is_name(std::string_view s) {
    if (s.empty() || s.size() > 64) {
        return false;
    }
    for (const char c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
            return false;
        }
    }
    return true;
}

bool is_env_name(std::string_view s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) {
        return false;
    }
    for (const char c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
            return false;
        }
    }
    return true;
}

// "30", "30s", "5m", "2h" as seconds.
std::optional<std::uint64_t> parse_duration(const std::string& text) {
    if (text.empty()) {
        return std::nullopt;
    }
    std::uint64_t unit = 1;
    std::string digits = text;
    switch (text.back()) {
    case 's':
        digits.pop_back();
        break;
    case 'm':
        unit = 60;
        digits.pop_back();
        break;
    case 'h':
        unit = 3600;
        digits.pop_back();
        break;
    default:
        break;
    }
    if (digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
    }
    return std::stoull(digits) * unit;
}

// "HH:MM" as minutes of the day.
std::optional<int> parse_clock(const std::string& text) {
    if (text.size() != 5 || text[2] != ':' ||
        text.find_first_not_of("0123456789:") != std::string::npos) {
        return std::nullopt;
    }
    const int h = std::stoi(text.substr(0, 2));
    const int m = std::stoi(text.substr(3, 2));
    if (h > 23 || m > 59) {
        return std::nullopt;
    }
    return h * 60 + m;
}

std::uint64_t duration(const Fields& f, std::string_view key) {
    const std::string text = f.str(key);
    const auto seconds = parse_duration(text);
    if (!seconds) {
        f.fail(key, "\"" + text + "\" is not a duration like 30s, 5m or 1h");
    }
    return *seconds;
}

InventoryNode parse_node(const YAML::Node& node, const std::string& file, const fs::path& base,
                         std::size_t i) {
    const Fields n(node, file, "nodes[" + std::to_string(i) + "]", k_node_keys, k_kind);
    InventoryNode out;
    out.where = location(file, node);
    out.name = n.str("name");
    if (!is_name(out.name)) {
        n.fail("name", "\"" + out.name +
                           "\" is not a node name (letters, digits, '-', '_', '.'; at most 64)");
    }
    const std::string transport = n.opt_str("transport").value_or("local");
    if (transport != "local" && transport != "ssh") {
        const auto guess = did_you_mean(transport, k_transports);
        n.fail("transport", "unknown transport \"" + transport + "\"" +
                                (guess ? " (did you mean \"" + *guess + "\"?)" : ""));
    }
    // A path of this machine's: relative to the inventory's folder.
    const auto local_path = [&](std::string_view key) {
        const fs::path p = n.str(key);
        return (p.is_absolute() ? p : base / p).lexically_normal();
    };
    if (transport == "local") {
        for (const auto key : {"host", "port", "user", "identity", "known_hosts", "applier"}) {
            if (n.has(key)) {
                n.fail(key, "is for the ssh transport; this node is local");
            }
        }
        out.root = local_path("root");
        out.state_dir = local_path("state_dir");
    } else {
        out.transport = Transport::ssh;
        out.host = n.str("host");
        // The schema's rule: letters, digits, '.', '_', ':', '%', '-', and no '-' first (never an option).
        if (out.host.empty() || out.host.size() > 253 || out.host.front() == '-' ||
            out.host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:%-") !=
                std::string::npos) {
            n.fail("host", "\"" + out.host + "\" is not a host name or address");
        }
        const std::uint64_t port = n.opt_u64("port").value_or(22);
        if (port == 0 || port > 65535) {
            n.fail("port", std::to_string(port) + " is not a port (1 to 65535)");
        }
        out.port = static_cast<std::uint16_t>(port);
        out.user = n.opt_str("user").value_or("");
        if (!out.user.empty() && !is_name(out.user)) {
            n.fail("user", "\"" + out.user + "\" is not a user name");
        }
        out.identity = local_path("identity");
        out.known_hosts = local_path("known_hosts");
        out.applier = n.opt_str("applier").value_or("ferry-applier");
        // Paths on the node: absolute, as its own applier takes them.
        const auto remote_path = [&](std::string_view key, const char* fallback) {
            const fs::path p = n.opt_str(key).value_or(fallback);
            if (!p.is_absolute()) {
                n.fail(key, p.string() + " is not an absolute path on the node");
            }
            return p.lexically_normal();
        };
        out.root = remote_path("root", "/");
        out.state_dir = remote_path("state_dir", k_default_state_dir);
    }
    if (n.has("vars")) {
        const YAML::Node vars = n.get("vars");
        if (!vars.IsMap()) {
            n.fail("vars", "must be a mapping of variable names to values");
        }
        for (const auto& kv : vars) {
            const std::string name = scalar(kv.first, file, n.child_context("vars"), k_kind);
            if (!is_env_name(name)) {
                throw Error(k_kind, location(file, kv.first) + ": " + n.child_context("vars") +
                                        ": \"" + name + "\" is not an environment variable name");
            }
            out.vars[name] = scalar(kv.second, file, n.child_context("vars") + "." + name, k_kind);
        }
    }
    out.groups = n.str_list("groups");
    return out;
}

MaxUnavailable parse_max_unavailable(const Fields& r, std::uint64_t nodes) {
    MaxUnavailable m;
    const std::string text = r.str("max_unavailable");
    if (text == "bft") {
        m.kind = MaxUnavailable::Kind::bft;
        if (m.allowed(nodes) == 0) {
            r.fail("max_unavailable",
                   "bft lets no node of " + std::to_string(nodes) + " be out (f = 0 below 4 nodes)",
                   "a cluster of fewer than 4 validators tolerates no fault; give a count instead");
        }
        return m;
    }
    const bool percent = !text.empty() && text.back() == '%';
    const std::string digits = percent ? text.substr(0, text.size() - 1) : text;
    if (digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
        r.fail("max_unavailable", "\"" + text + "\" is not a count, a percentage (25%) or bft");
    }
    m.kind = percent ? MaxUnavailable::Kind::percent : MaxUnavailable::Kind::count;
    m.value = std::stoull(digits);
    if (percent && (m.value == 0 || m.value > 100)) {
        r.fail("max_unavailable", "a percentage must be between 1% and 100%");
    }
    if (!percent && (m.value == 0 || m.value > nodes)) {
        r.fail("max_unavailable",
               "must be between 1 and the number of nodes (" + std::to_string(nodes) + ")");
    }
    return m;
}

RolloutPolicy parse_rollout(const Fields& top, const Inventory& inv) {
    RolloutPolicy p;
    if (!top.has("rollout")) {
        return p;
    }
    const Fields r = top.sub("rollout", {"order", "canary", "after_canary", "max_unavailable",
                                         "max_failures", "stabilize", "window", "leader_timeout",
                                         "gate_timeout"});
    const std::uint64_t n = inv.nodes.size();
    if (r.has("order")) {
        const std::string order = r.str("order");
        if (order == "leader-last") {
            p.order = Order::leader_last;
        } else if (order == "leader-first") {
            p.order = Order::leader_first;
        } else if (order == "inventory") {
            p.order = Order::inventory;
        } else {
            const auto guess = did_you_mean(order, k_orders);
            r.fail("order",
                   "unknown order \"" + order + "\"" +
                       (guess ? " (did you mean \"" + *guess + "\"?)" : ""),
                   "one of leader-last, leader-first, inventory");
        }
    }
    if (r.has("canary")) {
        const std::string canary = r.str("canary");
        if (canary.find_first_not_of("0123456789") == std::string::npos) {
            p.canary = r.u64("canary");
            if (p.canary >= n && n > 1) {
                r.fail("canary",
                       "must leave at least one node after the canaries (the cluster has " +
                           std::to_string(n) + ")");
            }
        } else if (inv.groups.count(canary) != 0) {
            p.canary_group = canary;
        } else {
            r.fail("canary", "\"" + canary + "\" is neither a count nor a group of the inventory");
        }
    }
    if (r.has("after_canary")) {
        const std::string after = r.str("after_canary");
        if (after != "pause") {
            const auto seconds = parse_duration(after);
            if (!seconds) {
                r.fail("after_canary",
                       "\"" + after + "\" is neither pause nor a duration like 30s, 5m or 1h");
            }
            p.after_canary_seconds = *seconds;
        }
    }
    if (r.has("max_unavailable")) {
        p.max_unavailable = parse_max_unavailable(r, n);
    }
    p.max_failures = r.opt_u64("max_failures").value_or(0);
    if (p.max_failures >= n && n > 0) {
        r.fail("max_failures", "must be below the number of nodes (" + std::to_string(n) + ")");
    }
    if (r.has("stabilize")) {
        p.stabilize_seconds = duration(r, "stabilize");
    }
    for (const auto& [key, field] : {std::pair{"leader_timeout", &p.leader_timeout_seconds},
                                     std::pair{"gate_timeout", &p.gate_timeout_seconds}}) {
        if (r.has(key)) {
            *field = duration(r, key);
            if (*field == 0) {
                r.fail(key, "must be longer than 0s");
            }
        }
    }
    if (r.has("window")) {
        const Fields w = r.sub("window", {"start", "end"});
        Window window;
        for (const auto key : {"start", "end"}) {
            const std::string text = w.str(key);
            const auto minute = parse_clock(text);
            if (!minute) {
                w.fail(key, "\"" + text + "\" is not a UTC time of day like 22:00");
            }
            (std::string_view(key) == "start" ? window.start : window.end) = *minute;
        }
        if (window.start == window.end) {
            w.fail("end", "the window never opens: it ends when it starts",
                   "give a window like start: \"22:00\", end: \"04:00\", or leave it out");
        }
        p.window = window;
    }
    return p;
}

} // namespace

std::uint64_t MaxUnavailable::allowed(std::uint64_t size) const {
    switch (kind) {
    case Kind::count:
        return std::min(value, size);
    case Kind::percent:
        return std::max<std::uint64_t>(1, size * value / 100);
    case Kind::bft:
        return size == 0 ? 0 : (size - 1) / 3;
    }
    return 0;
}

std::string MaxUnavailable::str() const {
    switch (kind) {
    case Kind::count:
        return std::to_string(value);
    case Kind::percent:
        return std::to_string(value) + "%";
    case Kind::bft:
        return "bft";
    }
    return "?";
}

bool Window::contains(int minute) const {
    return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

const InventoryNode* Inventory::node(const std::string& name) const {
    for (const auto& n : nodes) {
        if (n.name == name) {
            return &n;
        }
    }
    return nullptr;
}

std::string order_name(Order order) {
    switch (order) {
    case Order::leader_last:
        return "leader-last";
    case Order::leader_first:
        return "leader-first";
    case Order::inventory:
        return "inventory";
    }
    return "?";
}

Inventory parse_inventory(std::string_view text, const fs::path& file) {
    const std::string name = file.string();
    const Fields f(load_yaml(text, name, k_kind), name, "",
                   {"cluster", "nodes", "groups", "rollout"}, k_kind);
    Inventory inv;
    inv.file = file;
    inv.cluster = f.str("cluster");
    if (!is_name(inv.cluster)) {
        f.fail("cluster",
               "\"" + inv.cluster + "\" is not a cluster name (letters, digits, '-', '_', '.')");
    }
    const fs::path base = fs::absolute(file).parent_path();
    std::set<std::string> names;
    std::map<std::string, std::string> roots;
    std::map<std::string, std::string> states;
    std::size_t i = 0;
    for (const auto& node : f.list("nodes")) {
        InventoryNode n = parse_node(node, name, base, i);
        const Fields where(node, name, "nodes[" + std::to_string(i) + "]", k_node_keys, k_kind);
        if (!names.insert(n.name).second) {
            where.fail("name", "node name \"" + n.name + "\" is listed twice");
        }
        // Folders are per machine: this one's for local nodes, the host's for ssh nodes.
        const std::string machine = n.transport == Transport::ssh ? n.host + ":" + std::to_string(n.port) + ":" : "";
        if (const auto [it, fresh] = roots.emplace(machine + n.root.string(), n.name); !fresh) {
            where.fail("root", n.root.string() + " is also the root of node " + it->second);
        }
        if (const auto [it, fresh] = states.emplace(machine + n.state_dir.string(), n.name); !fresh) {
            where.fail("state_dir",
                       n.state_dir.string() + " is also the state folder of node " + it->second);
        }
        for (const auto& g : n.groups) {
            inv.groups[g].push_back(n.name);
        }
        inv.nodes.push_back(std::move(n));
        ++i;
    }
    if (inv.nodes.empty()) {
        f.fail("nodes", "the inventory lists no nodes");
    }
    if (f.has("groups")) {
        const YAML::Node groups = f.get("groups");
        if (!groups.IsMap()) {
            f.fail("groups", "must map each group's name to a list of node names");
        }
        for (const auto& kv : groups) {
            const std::string group = scalar(kv.first, name, "groups", k_kind);
            if (!kv.second.IsSequence()) {
                throw Error(k_kind, location(name, kv.second) + ": groups." + group +
                                        ": must be a list of node names");
            }
            for (const auto& member : kv.second) {
                const std::string node = scalar(member, name, "groups." + group, k_kind);
                if (names.count(node) == 0) {
                    std::vector<std::string_view> known(names.begin(), names.end());
                    const auto guess = did_you_mean(node, known);
                    throw Error(k_kind, location(name, member) + ": groups." + group +
                                            ": no node is called \"" + node + "\"" +
                                            (guess ? " (did you mean \"" + *guess + "\"?)" : ""));
                }
                inv.groups[group].push_back(node);
            }
        }
    }
    inv.rollout = parse_rollout(f, inv);
    return inv;
}

Inventory load_inventory(const fs::path& path) {
    return parse_inventory(read_file(path, 16u << 20), path);
}

} // namespace ferry::schema
