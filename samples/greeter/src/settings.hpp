#pragma once

// The settings file (KEY=VALUE lines, as systemd's EnvironmentFile=) and the GREETER_PORT
// override.

#include <string>
#include <string_view>

namespace greeter {

inline constexpr int k_default_port = 18080;
inline constexpr std::string_view k_default_database = "/var/lib/greeter/greeter.db";

// The settings greeter runs with, after defaults and GREETER_PORT are applied.
struct Settings {
    std::string greeting;
    int port = k_default_port;
    std::string language;                                   // 2.x only
    std::string database = std::string(k_default_database); // absolute, not yet below a root
};

// Reads the settings file PATH, warning on stderr about keys this release does not know.
[[nodiscard]] Settings load_settings(const std::string& path);

// The port PATH configures (PORT, or GREETER_PORT when set), without checking other keys.
[[nodiscard]] int load_port(const std::string& path);

// Parses a port number; NAME says where TEXT came from, for the message.
[[nodiscard]] int parse_port(std::string_view name, std::string_view text);

// PATH below ROOT, as dpkg --root does: below_root("/tmp/r", "/var/x") is "/tmp/r/var/x"; an
// empty ROOT or "/" leaves PATH as it is.
[[nodiscard]] std::string below_root(std::string_view root, std::string_view path);

} // namespace greeter
