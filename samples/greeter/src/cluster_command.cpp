// `greeter cluster role|synced|step-down`: the cluster's questions that an applier asks a node
// (procedure.cluster, through greeterctl), answered by the running instance over HTTP.

#include "cluster.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "http.hpp"
#include "settings.hpp"

#include <chrono>
#include <iostream>
#include <string>

namespace greeter {
namespace {

constexpr auto k_question_timeout = std::chrono::seconds(2);
// A step-down waits for a follower to catch up; the answer comes after at most that long.
constexpr auto k_step_down_timeout = k_step_down_limit + std::chrono::seconds(5);

[[nodiscard]] std::string one_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.pop_back();
    }
    return text;
}

// The instance's role: its own answer, or, when it does not answer, the lease's word (a stopped
// instance leads only while its lease runs).
[[nodiscard]] int role(const Settings& settings) {
    try {
        const Response response = http_get(settings.port, "/health", k_question_timeout);
        const auto role = json_string_field(response.body, "role");
        if (response.status == 200 && role) {
            std::cout << *role << '\n';
            return 0;
        }
    } catch (const Error&) {
        // not answering: the lease tells
    }
    const auto lease = read_lease(settings.cluster->lease);
    const bool leads =
        lease && lease->holder == settings.cluster->node && lease->expires_ms > wall_ms();
    std::cout << (leads ? "leader" : "follower") << '\n';
    return 0;
}

[[nodiscard]] int synced(const Settings& settings) {
    const std::string url = local_url(settings.port, "/health");
    const Response response = http_get(settings.port, "/health", k_question_timeout);
    if (response.status != 200 || response.body.find(R"("synced":true)") == std::string::npos) {
        throw Error(ErrorKind::unhealthy, url + ": not synced (status " +
                                              std::to_string(response.status) +
                                              "): " + one_line(response.body));
    }
    std::cout << url << ": synced\n";
    return 0;
}

[[nodiscard]] int step_down(const Settings& settings) {
    const std::string url = local_url(settings.port, "/step-down");
    const Response response =
        http_request(settings.port, "POST", "/step-down", "{}", k_step_down_timeout);
    if (response.status != 200) {
        throw Error(ErrorKind::unhealthy, url + ": status " + std::to_string(response.status) +
                                              ": " + one_line(response.body));
    }
    std::cout << settings.cluster->node << " stepped down; the leader is "
              << json_string_field(response.body, "leader").value_or("(unknown)") << '\n';
    return 0;
}

} // namespace

int run_cluster(Args args) {
    const std::string_view question = args.empty() ? "" : args.front();
    if (question != "role" && question != "synced" && question != "step-down") {
        throw Error(ErrorKind::usage, "cluster: expected role, synced or step-down");
    }
    const auto options = parse_options("cluster", args.subspan(1), {"--config"});
    if (!options.contains("--config")) {
        throw Error(ErrorKind::usage, "cluster: --config FILE is required");
    }
    const Settings settings = load_endpoint(options.at("--config"));
    if (!settings.cluster) {
        throw Error(ErrorKind::settings,
                    options.at("--config") +
                        ": cluster mode is off (neither CLUSTER_LEASE nor GREETER_CLUSTER_LEASE "
                        "is set)");
    }
    if (question == "role") {
        return role(settings);
    }
    if (question == "synced") {
        return synced(settings);
    }
    return step_down(settings);
}

} // namespace greeter
