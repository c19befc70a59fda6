#pragma once

// The settings file (KEY=VALUE lines, as systemd's EnvironmentFile=) and the GREETER_PORT,
// GREETER_CLUSTER_LEASE, GREETER_NODE and GREETER_PEERS overrides.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace greeter {

inline constexpr int k_default_port = 18080;
inline constexpr std::string_view k_default_database = "/var/lib/greeter/greeter.db";

// Cluster mode, on when CLUSTER_LEASE (or GREETER_CLUSTER_LEASE) is set: the instances share a
// lease file, one of them leads and takes writes, the others copy its greetings.
struct ClusterSettings {
    std::string lease;      // the shared lease file, absolute (not below a root)
    std::string node;       // this instance's name, in the lease and in answers
    std::vector<int> peers; // the ports of the other instances (this one's may be listed too)
};

// The settings greeter runs with, after defaults and the GREETER_* overrides are applied.
struct Settings {
    std::string greeting;
    int port = k_default_port;
    std::string language;                                   // 2.x only
    std::string database = std::string(k_default_database); // absolute, not yet below a root
    std::optional<ClusterSettings> cluster;                 // none: a lone instance, as ever
};

// Reads the settings file PATH, warning on stderr about keys this release does not know.
[[nodiscard]] Settings load_settings(const std::string& path);

// The port and the cluster settings of PATH (after the overrides), without checking other keys.
[[nodiscard]] Settings load_endpoint(const std::string& path);

// The port PATH configures (PORT, or GREETER_PORT when set), without checking other keys.
[[nodiscard]] int load_port(const std::string& path);

// Parses a port number; NAME says where TEXT came from, for the message.
[[nodiscard]] int parse_port(std::string_view name, std::string_view text);

// PATH below ROOT, as dpkg --root does: below_root("/tmp/r", "/var/x") is "/tmp/r/var/x"; an
// empty ROOT or "/" leaves PATH as it is.
[[nodiscard]] std::string below_root(std::string_view root, std::string_view path);

} // namespace greeter
