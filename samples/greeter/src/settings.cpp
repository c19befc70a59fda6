#include "settings.hpp"

#include "build.hpp"
#include "error.hpp"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <system_error>
#include <utility>

namespace greeter {
namespace {

constexpr const char* k_port_variable = "GREETER_PORT";
constexpr const char* k_lease_variable = "GREETER_CLUSTER_LEASE";
constexpr const char* k_node_variable = "GREETER_NODE";
constexpr const char* k_peers_variable = "GREETER_PEERS";

[[nodiscard]] Error settings_error(const std::string& message) {
    return {ErrorKind::settings, message};
}

[[nodiscard]] std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t\r");
    return text.substr(first, last - first + 1);
}

[[nodiscard]] bool is_valid_key(std::string_view key) {
    if (key.empty() || (key.front() >= '0' && key.front() <= '9')) {
        return false;
    }
    for (const char c : key) {
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

// Strips one pair of matching quotes, as systemd's EnvironmentFile= does.
[[nodiscard]] std::string_view unquote(std::string_view value) {
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
        return value.substr(1, value.size() - 2);
    }
    return value;
}

// Parses one non-blank, non-comment line of an env file into its key and value.
[[nodiscard]] std::pair<std::string, std::string> parse_env_line(std::string_view text) {
    const auto equal = text.find('=');
    if (equal == std::string_view::npos) {
        throw settings_error("missing '=' (expected KEY=VALUE)");
    }
    std::string key(trim(text.substr(0, equal)));
    if (!is_valid_key(key)) {
        throw settings_error("invalid key \"" + key + "\" (expected A-Z, 0-9 and _)");
    }
    return {std::move(key), std::string(unquote(trim(text.substr(equal + 1))))};
}

// Reads KEY=VALUE lines; blank lines and lines starting with '#' are skipped.
[[nodiscard]] std::map<std::string, std::string> read_env_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        throw settings_error(path + ": cannot open file");
    }
    std::map<std::string, std::string> values;
    std::string line;
    int line_number = 0;
    while (std::getline(in, line)) {
        ++line_number;
        const std::string_view text = trim(line);
        if (text.empty() || text.front() == '#') {
            continue;
        }
        try {
            auto [key, value] = parse_env_line(text);
            if (values.contains(key)) {
                throw settings_error("duplicate key " + key);
            }
            values.emplace(std::move(key), std::move(value));
        } catch (const Error& e) {
            throw settings_error(path + ':' + std::to_string(line_number) + ": " + e.what());
        }
    }
    if (in.bad()) {
        throw settings_error(path + ": read error");
    }
    return values;
}

// PORT from VALUES (removed from them), unless GREETER_PORT overrides it.
[[nodiscard]] int take_port(const std::string& path, std::map<std::string, std::string>& values) {
    const auto port = values.extract("PORT");
    const char* const override_text = std::getenv(k_port_variable);
    if (override_text != nullptr && *override_text != '\0') {
        return parse_port(k_port_variable, override_text);
    }
    return port ? parse_port(path + ": PORT", port.mapped()) : k_default_port;
}

// Where KEY's value comes from (for messages) and the value: the environment's VARIABLE when
// set, else KEY of VALUES (removed from them either way); none when neither is set.
[[nodiscard]] std::optional<std::pair<std::string, std::string>>
take_value(const std::string& path, std::map<std::string, std::string>& values, const char* key,
           const char* variable) {
    const auto entry = values.extract(key);
    const char* const override_text = std::getenv(variable);
    if (override_text != nullptr && *override_text != '\0') {
        return std::pair<std::string, std::string>(variable, override_text);
    }
    if (entry && !entry.mapped().empty()) {
        return std::pair<std::string, std::string>(path + ": " + key, entry.mapped());
    }
    return std::nullopt;
}

// The ports of TEXT ("18081,18082"), each 1 to 65535.
[[nodiscard]] std::vector<int> parse_peers(const std::string& source, const std::string& text) {
    std::vector<int> peers;
    std::string_view rest = text;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view item = trim(rest.substr(0, comma));
        peers.push_back(parse_port(source + " (a comma-separated list of ports)", item));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    return peers;
}

// CLUSTER_LEASE, NODE and PEERS from VALUES (removed from them), or their GREETER_* overrides:
// none when no lease is set; NODE is then required.
[[nodiscard]] std::optional<ClusterSettings>
take_cluster(const std::string& path, std::map<std::string, std::string>& values) {
    const auto lease = take_value(path, values, "CLUSTER_LEASE", k_lease_variable);
    const auto node = take_value(path, values, "NODE", k_node_variable);
    const auto peers = take_value(path, values, "PEERS", k_peers_variable);
    if (!lease) {
        return std::nullopt;
    }
    ClusterSettings cluster;
    cluster.lease = lease->second;
    if (cluster.lease.front() != '/') {
        throw settings_error(lease->first + " must be an absolute path, got \"" + cluster.lease +
                             "\"");
    }
    if (!node) {
        throw settings_error("cluster mode (" + lease->first +
                             ") needs a node name: set NODE or GREETER_NODE");
    }
    cluster.node = node->second;
    for (const char c : cluster.node) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            throw settings_error(node->first +
                                 " must be made of letters, digits, '-', '_' and "
                                 "'.', got \"" +
                                 cluster.node + "\"");
        }
    }
    if (peers) {
        cluster.peers = parse_peers(peers->first, peers->second);
    }
    return cluster;
}

[[nodiscard]] std::string default_greeting(std::string_view language) {
    if (language == "de") {
        return "Hallo, Welt!";
    }
    if (language == "fr") {
        return "Bonjour, le monde !";
    }
    return "Hello, world!";
}

} // namespace

int parse_port(std::string_view name, std::string_view text) {
    int port = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) {
        throw settings_error(std::string(name) + " must be a number from 1 to 65535, got \"" +
                             std::string(text) + "\"");
    }
    return port;
}

Settings load_settings(const std::string& path) {
    auto values = read_env_file(path);
    Settings settings;
    settings.port = take_port(path, values);
    settings.cluster = take_cluster(path, values);
    if (const auto database = values.extract("DATABASE")) {
        settings.database = database.mapped();
        if (settings.database.empty() || settings.database.front() != '/') {
            throw settings_error(path + ": DATABASE must be an absolute path, got \"" +
                                 settings.database + "\"");
        }
    }
    if constexpr (k_has_language) {
        const auto language = values.extract("LANGUAGE");
        if (!language) {
            throw settings_error(path + ": LANGUAGE is not set (greeter 2 requires it; add "
                                        "LANGUAGE=en to keep the 1.x behaviour)");
        }
        settings.language = language.mapped();
        if (settings.language != "en" && settings.language != "de" && settings.language != "fr") {
            throw settings_error(path + ": unsupported LANGUAGE \"" + settings.language +
                                 "\" (supported: en, de, fr)");
        }
    }
    const auto greeting = values.extract("GREETING");
    settings.greeting = greeting ? greeting.mapped() : default_greeting(settings.language);
    // Unknown keys are tolerated so that 1.x still starts on a configuration that an upgrade
    // to 2.x extended and a rollback kept.
    for (const auto& [key, value] : values) {
        std::cerr << "greeter: warning: " << path << ": ignoring unknown key " << key << '\n';
    }
    return settings;
}

Settings load_endpoint(const std::string& path) {
    auto values = read_env_file(path);
    Settings settings;
    settings.port = take_port(path, values);
    settings.cluster = take_cluster(path, values);
    return settings;
}

int load_port(const std::string& path) {
    auto values = read_env_file(path);
    return take_port(path, values);
}

std::string below_root(std::string_view root, std::string_view path) {
    while (!root.empty() && root.back() == '/') {
        root.remove_suffix(1);
    }
    return std::string(root) + std::string(path);
}

} // namespace greeter
