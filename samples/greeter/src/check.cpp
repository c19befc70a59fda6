// `greeter check`: the health check that appliers run, so that no curl is needed on site.

#include "commands.hpp"
#include "error.hpp"
#include "http.hpp"
#include "settings.hpp"

#include <charconv>
#include <chrono>
#include <iostream>
#include <system_error>

namespace greeter {
namespace {

constexpr int k_default_timeout = 5;
constexpr int k_max_timeout = 3600;
constexpr std::size_t k_max_quoted_body = 200;

[[nodiscard]] int parse_timeout(const std::string& text) {
    int seconds = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size() || seconds < 1 ||
        seconds > k_max_timeout) {
        throw Error(ErrorKind::usage, "check: --timeout must be a number of seconds from 1 to " +
                                          std::to_string(k_max_timeout) + ", got \"" + text + "\"");
    }
    return seconds;
}

[[nodiscard]] int port_of(const std::map<std::string, std::string>& options) {
    if (options.contains("--port") == options.contains("--config")) {
        throw Error(ErrorKind::usage, "check: give exactly one of --port N and --config FILE");
    }
    if (options.contains("--config")) {
        return load_port(options.at("--config"));
    }
    try {
        return parse_port("check: --port", options.at("--port"));
    } catch (const Error& e) {
        throw Error(ErrorKind::usage, e.what());
    }
}

// BODY on one line and cut short, to quote in a message.
[[nodiscard]] std::string quoted_body(std::string body) {
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) {
        body.pop_back();
    }
    if (body.size() > k_max_quoted_body) {
        body.resize(k_max_quoted_body);
        body += "...";
    }
    return body;
}

} // namespace

int run_check(Args args) {
    const auto options = parse_options(
        "check", args, {"--port", "--config", "--path", "--expect-version", "--timeout"});
    const int port = port_of(options);
    const std::string path = options.contains("--path") ? options.at("--path") : "/health";
    if (path.empty() || path.front() != '/') {
        throw Error(ErrorKind::usage, "check: --path must start with '/', got \"" + path + "\"");
    }
    const int timeout =
        options.contains("--timeout") ? parse_timeout(options.at("--timeout")) : k_default_timeout;

    const std::string url = local_url(port, path);
    const Response response = http_get(port, path, std::chrono::seconds(timeout));
    if (response.status != 200) {
        throw Error(ErrorKind::unhealthy, url + ": status " + std::to_string(response.status) +
                                              ": " + quoted_body(response.body));
    }
    const auto version = json_string_field(response.body, "version");
    if (options.contains("--expect-version")) {
        const std::string& expected = options.at("--expect-version");
        if (version != expected) {
            throw Error(ErrorKind::unhealthy,
                        url + ": version " + version.value_or("(none)") + ", expected " + expected,
                        "the running greeter is not the release the bundle installs");
        }
    }
    std::cout << url << ": 200" << (version ? ", version " + *version : "") << '\n';
    return 0;
}

} // namespace greeter
