// greeter: the sample service that Ferry's tests bundle, install, upgrade and roll back.
// One source, built twice: GREETER_VERSION names the release and GREETER_MAJOR_FEATURE
// turns on the 2.x behaviour (the LANGUAGE setting, which 2.x requires).

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#ifndef GREETER_VERSION
#error "GREETER_VERSION must be defined, e.g. -DGREETER_VERSION=\"1.0.0\""
#endif

namespace {

constexpr std::string_view k_version = GREETER_VERSION;
#ifdef GREETER_MAJOR_FEATURE
constexpr bool k_has_language = true;
#else
constexpr bool k_has_language = false;
#endif

constexpr int k_exit_config = 1;
constexpr int k_exit_usage = 2;
constexpr int k_default_port = 8080;

constexpr std::string_view k_usage = "usage: greeter --version\n"
                                     "       greeter --config FILE\n";

// A problem with the configuration file, reported once by main.
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The settings greeter runs with, after defaults are applied.
struct Settings {
    std::string greeting;
    int port = k_default_port;
    std::string language;
};

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
        throw ConfigError("missing '=' (expected KEY=VALUE)");
    }
    std::string key(trim(text.substr(0, equal)));
    if (!is_valid_key(key)) {
        throw ConfigError("invalid key \"" + key + "\" (expected A-Z, 0-9 and _)");
    }
    return {std::move(key), std::string(unquote(trim(text.substr(equal + 1))))};
}

// Reads KEY=VALUE lines; blank lines and lines starting with '#' are skipped.
[[nodiscard]] std::map<std::string, std::string> read_env_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        throw ConfigError(path + ": cannot open file");
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
        std::string where = path;
        where += ':';
        where += std::to_string(line_number);
        where += ": ";
        try {
            auto [key, value] = parse_env_line(text);
            if (values.contains(key)) {
                throw ConfigError("duplicate key " + key);
            }
            values.emplace(std::move(key), std::move(value));
        } catch (const ConfigError& e) {
            throw ConfigError(where + e.what());
        }
    }
    if (in.bad()) {
        throw ConfigError(path + ": read error");
    }
    return values;
}

[[nodiscard]] int parse_port(const std::string& path, const std::string& text) {
    int port = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) {
        throw ConfigError(path + ": PORT must be a number from 1 to 65535, got \"" + text + "\"");
    }
    return port;
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

[[nodiscard]] Settings load_settings(const std::string& path) {
    auto values = read_env_file(path);
    Settings settings;
    if (const auto port = values.extract("PORT")) {
        settings.port = parse_port(path, port.mapped());
    }
    if constexpr (k_has_language) {
        const auto language = values.extract("LANGUAGE");
        if (!language) {
            throw ConfigError(path + ": LANGUAGE is not set (greeter 2 requires it; add "
                                     "LANGUAGE=en to keep the 1.x behaviour)");
        }
        settings.language = language.mapped();
        if (settings.language != "en" && settings.language != "de" && settings.language != "fr") {
            throw ConfigError(path + ": unsupported LANGUAGE \"" + settings.language +
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

void print_greeting(const Settings& settings) {
    std::cout << settings.greeting << " (greeter " << k_version << ", port " << settings.port;
    if constexpr (k_has_language) {
        std::cout << ", language " << settings.language;
    }
    std::cout << ")\n";
}

} // namespace

int main(int argc, char** argv) {
    const std::string_view command = argc >= 2 ? argv[1] : "";
    if (argc == 2 && command == "--version") {
        std::cout << "greeter " << k_version << '\n';
        return EXIT_SUCCESS;
    }
    if (argc == 2 && (command == "--help" || command == "-h")) {
        std::cout << k_usage;
        return EXIT_SUCCESS;
    }
    if (argc != 3 || command != "--config") {
        std::cerr << "greeter: error: expected --version or --config FILE\n" << k_usage;
        return k_exit_usage;
    }
    try {
        print_greeting(load_settings(argv[2]));
    } catch (const ConfigError& e) {
        std::cerr << "greeter: error: " << e.what() << '\n';
        return k_exit_config;
    }
    return EXIT_SUCCESS;
}
