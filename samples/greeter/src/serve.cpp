// `greeter serve`: a single-threaded HTTP/1.0 server on 127.0.0.1, one poll loop, one answer per
// connection.

#include "build.hpp"
#include "cluster.hpp"
#include "commands.hpp"
#include "database.hpp"
#include "error.hpp"
#include "http.hpp"
#include "settings.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <iostream>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace greeter {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t k_max_clients = 32;
constexpr std::size_t k_max_head = 8192;
constexpr auto k_client_timeout = std::chrono::seconds(5);
constexpr std::size_t k_max_body = 16384;
constexpr std::size_t k_max_greeting = 1000;

// In cluster mode each log line starts with the UTC time, so that the instances' logs can be
// read in one order.
bool g_log_times = false;

// The write end of the self-pipe through which the signal handler wakes the poll loop.
int g_signal_pipe = -1;

void on_signal(int signal) {
    const int saved_errno = errno;
    const auto byte = static_cast<unsigned char>(signal);
    static_cast<void>(write(g_signal_pipe, &byte, 1));
    errno = saved_errno;
}

// A service started from an applier's hook must not keep the applier's files (a lock, the
// hook's pipes) open after the hook returned; greeterctl already redirected 0, 1 and 2.
void close_inherited_fds() {
    const long open_max = sysconf(_SC_OPEN_MAX);
    const int last = open_max > 0 && open_max < 65536 ? static_cast<int>(open_max) : 65536;
    for (int fd = 3; fd < last; ++fd) {
        close(fd);
    }
}

// The read end of a pipe that SIGTERM and SIGINT write their number to; SIGPIPE is ignored.
[[nodiscard]] Fd install_signal_pipe() {
    int ends[2];
    if (pipe(ends) != 0) {
        throw Error(ErrorKind::network,
                    std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    for (const int end : ends) {
        fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK);
        fcntl(end, F_SETFD, FD_CLOEXEC);
    }
    g_signal_pipe = ends[1]; // kept open until exit, for the handler
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    return Fd(ends[0]);
}

void log_line(const std::string& text) {
    if (g_log_times) {
        const long long ms = wall_ms();
        const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
        std::tm utc{};
        gmtime_r(&seconds, &utc);
        char stamp[80];
        std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ",
                      utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                      utc.tm_sec, static_cast<int>(ms % 1000));
        std::cerr << "greeter: " << stamp << text << std::endl;
        return;
    }
    std::cerr << "greeter: " << text << std::endl;
}

// One connection: the request as it arrives, then the answer as it leaves.
struct Client {
    Fd fd;
    Clock::time_point deadline;
    std::string in;
    std::string out;
    std::size_t sent = 0;
    bool done = false;
    bool pending = false; // a step-down's answer, given when it ends
};

class Server {
public:
    Server(const Settings& settings, Database& database, Cluster* cluster, Fd listener,
           Fd signal_pipe)
        : m_settings(settings), m_database(database), m_cluster(cluster),
          m_listener(std::move(listener)), m_signal_pipe(std::move(signal_pipe)) {}

    // Serves until SIGTERM or SIGINT; returns the signal's number.
    [[nodiscard]] int run();

private:
    [[nodiscard]] int poll_timeout() const;
    void accept_clients();
    void read_request(Client& client);
    void write_answer(Client& client);
    [[nodiscard]] std::string answer(Client& client, const Request& request);
    [[nodiscard]] std::string health() const;
    [[nodiscard]] std::string greetings() const;
    [[nodiscard]] std::string cluster_answer(Client& client, const Request& request);
    [[nodiscard]] std::string not_the_leader() const;
    [[nodiscard]] std::string add_greeting(const Request& request);
    [[nodiscard]] std::string rows(const Request& request);
    void finish_step_down();

    const Settings& m_settings;
    Database& m_database;
    Cluster* m_cluster; // none: a lone instance
    Fd m_listener;
    Fd m_signal_pipe;
    std::vector<Client> m_clients;
};

int Server::run() {
    std::vector<pollfd> fds;
    for (;;) {
        fds.clear();
        fds.push_back({m_signal_pipe.get(), POLLIN, 0});
        const short accepting = m_clients.size() < k_max_clients ? POLLIN : 0;
        fds.push_back({m_listener.get(), accepting, 0});
        for (const Client& client : m_clients) {
            // A step-down's client waits for its answer; only a hang-up is watched for.
            short wanted = 0;
            if (!client.pending) {
                wanted = client.out.empty() ? POLLIN : POLLOUT;
            }
            fds.push_back({client.fd.get(), wanted, 0});
        }
        if (poll(fds.data(), fds.size(), poll_timeout()) < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw Error(ErrorKind::network, std::string("poll: ") + std::strerror(errno));
        }
        if ((fds[0].revents & POLLIN) != 0) {
            unsigned char signal = 0;
            static_cast<void>(read(m_signal_pipe.get(), &signal, 1));
            return signal;
        }
        const auto now = Clock::now();
        for (std::size_t i = 0; i < m_clients.size(); ++i) {
            Client& client = m_clients[i];
            const short events = fds[i + 2].revents;
            if ((events & POLLOUT) != 0) {
                write_answer(client);
            } else if ((events & (POLLIN | POLLHUP | POLLERR)) != 0) {
                read_request(client);
            } else if (now >= client.deadline) {
                client.done = true;
            }
        }
        std::erase_if(m_clients, [](const Client& client) { return client.done; });
        if ((fds[1].revents & POLLIN) != 0) {
            accept_clients();
        }
        if (m_cluster != nullptr) {
            m_cluster->tick();
            finish_step_down();
        }
    }
}

int Server::poll_timeout() const {
    if (m_clients.empty() && m_cluster == nullptr) {
        return -1;
    }
    auto next = m_cluster != nullptr ? m_cluster->next_tick() : Clock::time_point::max();
    for (const Client& client : m_clients) {
        next = std::min(next, client.deadline);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
    return static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count() + 1, 0));
}

void Server::accept_clients() {
    while (m_clients.size() < k_max_clients) {
        const int fd = accept(m_listener.get(), nullptr, nullptr);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_line(std::string("accept: ") + std::strerror(errno));
            }
            return;
        }
        Client client{Fd(fd), Clock::now() + k_client_timeout, {}, {}, 0, false};
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        m_clients.push_back(std::move(client));
    }
}

void Server::read_request(Client& client) {
    char buffer[4096];
    const auto n = recv(client.fd.get(), buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    if (n <= 0) {
        client.done = true; // closed or failed before the request was complete
        return;
    }
    if (!client.out.empty() || client.pending) {
        return; // answered already; whatever follows is ignored
    }
    client.in.append(buffer, static_cast<std::size_t>(n));
    const auto head_end = end_of_head(client.in);
    if (head_end != std::string::npos) {
        const std::string_view head = std::string_view(client.in).substr(0, head_end);
        auto request = parse_request(head);
        if (!request) {
            log_line("malformed request: 400");
            client.out = make_response(400, R"({"error":"malformed request"})");
            return;
        }
        const auto length = content_length(head);
        if (!length || *length > k_max_body) {
            log_line("request body length not a number or larger than " +
                     std::to_string(k_max_body) + " bytes: 413");
            client.out = make_response(413, R"({"error":"request body too large"})");
            return;
        }
        if (client.in.size() - head_end < *length) {
            return; // the rest of the body is still to come
        }
        request->body = client.in.substr(head_end, *length);
        client.out = answer(client, *request);
    } else if (client.in.size() > k_max_head) {
        log_line("request head larger than " + std::to_string(k_max_head) + " bytes: 400");
        client.out = make_response(400, R"({"error":"request head too large"})");
    }
}

void Server::write_answer(Client& client) {
    const auto n = send(client.fd.get(), client.out.data() + client.sent,
                        client.out.size() - client.sent, MSG_NOSIGNAL);
    if (n < 0) {
        client.done = errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK;
        return;
    }
    client.sent += static_cast<std::size_t>(n);
    client.done = client.sent == client.out.size();
}

std::string Server::answer(Client& client, const Request& request) {
    std::string response;
    if (m_cluster != nullptr && (request.method == "POST" || request.path == "/cluster/rows")) {
        response = cluster_answer(client, request);
        if (client.pending) {
            return {};
        }
    } else if (request.method != "GET") {
        response = make_response(405, R"({"error":"only GET is supported"})");
    } else if (request.path == "/health") {
        response = health();
    } else if (request.path == "/greetings") {
        response = greetings();
    } else {
        response =
            make_response(404, R"({"error":"not found","path":)" + json_string(request.path) + '}');
    }
    // Followers pull every few hundred milliseconds: their successful pulls are not logged.
    if (request.path != "/cluster/rows" || response.substr(9, 3) != "200") {
        log_line(request.method + ' ' + request.path + ' ' + response.substr(9, 3));
    }
    return response;
}

std::string Server::cluster_answer(Client& client, const Request& request) {
    try {
        if (request.method == "POST" && request.path == "/greetings") {
            return add_greeting(request);
        }
        if (request.method == "GET" && request.path == "/cluster/rows") {
            return rows(request);
        }
        if (request.method == "POST" && request.path == "/step-down") {
            if (!m_cluster->leader()) {
                return not_the_leader();
            }
            if (m_cluster->stepping_down()) {
                return make_response(409, R"({"error":"a step-down is already under way"})");
            }
            m_cluster->begin_step_down();
            client.pending = true;
            client.deadline = Clock::now() + k_step_down_limit + std::chrono::seconds(2);
            return {};
        }
        if (request.method == "POST") {
            return make_response(405, R"({"error":"POST is for /greetings and /step-down"})");
        }
        return make_response(404,
                             R"({"error":"not found","path":)" + json_string(request.path) + '}');
    } catch (const Error& e) {
        log_line(e.what());
        return make_response(500, R"({"error":)" + json_string(e.what()) + '}');
    }
}

std::string Server::not_the_leader() const {
    const std::string& leader = m_cluster->leader_name();
    if (m_cluster->leader()) {
        return make_response(503, R"({"error":"stepping down: writes are refused","node":)" +
                                      json_string(m_cluster->node()) + '}');
    }
    if (leader.empty()) {
        return make_response(503, R"({"error":"no leader known yet","node":)" +
                                      json_string(m_cluster->node()) + '}');
    }
    return make_response(409, R"({"error":"not the leader; the leader is )" + leader +
                                  R"(","leader":)" + json_string(leader) + R"(,"leader_port":)" +
                                  std::to_string(m_cluster->leader_port()) + '}');
}

std::string Server::add_greeting(const Request& request) {
    if (!m_cluster->accepts_writes()) {
        return not_the_leader();
    }
    const auto text = json_string_field(request.body, "text");
    if (!text || text->empty() || text->size() > k_max_greeting) {
        return make_response(400, R"({"error":"expected a JSON object with a "text" of 1 to )" +
                                      std::to_string(k_max_greeting) + R"( bytes"})");
    }
    std::string language = json_string_field(request.body, "language").value_or("");
    if constexpr (k_has_language) {
        if (language.empty()) {
            language = m_settings.language;
        }
        if (language != "en" && language != "de" && language != "fr") {
            return make_response(400, R"({"error":"unsupported language )" + json_string(language) +
                                          " (supported: en, de, fr)\"}");
        }
    }
    const long long id = m_database.insert(*text, language);
    return make_response(201, R"({"id":)" + std::to_string(id) + R"(,"node":)" +
                                  json_string(m_cluster->node()) + '}');
}

std::string Server::rows(const Request& request) {
    if (!m_cluster->leader()) {
        return not_the_leader();
    }
    const auto after_text = query_value(request.query, "after");
    const auto node = query_value(request.query, "node");
    const auto port_text = query_value(request.query, "port");
    long long after = 0;
    int port = 0;
    try {
        if (!after_text || !node || node->empty() || !port_text) {
            throw Error(ErrorKind::usage, "missing");
        }
        port = parse_port("port", *port_text);
        after = std::stoll(*after_text);
    } catch (const std::exception&) {
        return make_response(400, R"({"error":"expected ?after=ID&node=NAME&port=PORT"})");
    }
    if (!m_cluster->is_peer(port)) {
        return make_response(403, R"({"error":"port )" + std::to_string(port) +
                                      R"( is not one of this cluster's PEERS"})");
    }
    m_cluster->note_pull(*node, port, after);
    const long long last = m_database.last_id();
    const auto rows = m_database.rows_after(after, k_pull_limit);
    const long long upto =
        rows.size() == static_cast<std::size_t>(k_pull_limit) ? rows.back().id : last;
    return make_response(200, rows_text(last, upto, rows), "text/plain; charset=utf-8");
}

void Server::finish_step_down() {
    const auto result = m_cluster->take_step_down_result();
    if (!result) {
        return;
    }
    std::string response;
    if (result->successor.empty()) {
        response = make_response(
            503, R"({"error":"no follower caught up with id )" + std::to_string(result->last_id) +
                     " within " + std::to_string(k_step_down_limit.count()) +
                     R"( s; still the leader","leader":)" + json_string(m_cluster->node()) + '}');
    } else {
        response = make_response(200, R"({"leader":)" + json_string(result->successor) +
                                          R"(,"leader_port":)" + std::to_string(result->port) +
                                          R"(,"last_id":)" + std::to_string(result->last_id) + '}');
    }
    log_line("POST /step-down " + response.substr(9, 3));
    for (Client& client : m_clients) {
        if (client.pending) {
            client.pending = false;
            client.out = response;
        }
    }
}

std::string Server::health() const {
    const std::string version = R"("version":)" + json_string(k_version);
    try {
        const int schema = m_database.schema_version();
        const std::string fields = version + R"(,"schema":)" + std::to_string(schema);
        if (schema < k_required_schema) {
            const std::string error = "schema version " + std::to_string(schema) + ", needs " +
                                      std::to_string(k_required_schema);
            return make_response(503, R"({"status":"error",)" + fields + R"(,"error":)" +
                                          json_string(error) + '}');
        }
        if (m_cluster == nullptr) {
            return make_response(200, R"({"status":"ok",)" + fields + '}');
        }
        return make_response(
            200, R"({"status":"ok",)" + fields + R"(,"node":)" + json_string(m_cluster->node()) +
                     R"(,"role":)" + (m_cluster->leader() ? R"("leader")" : R"("follower")") +
                     R"(,"synced":)" + (m_cluster->synced() ? "true" : "false") + R"(,"last_id":)" +
                     std::to_string(m_database.last_id()) + R"(,"leader":)" +
                     json_string(m_cluster->leader_name()) + '}');
    } catch (const Error& e) {
        log_line(e.what());
        return make_response(503, R"({"status":"error",)" + version + R"(,"error":)" +
                                      json_string(e.what()) + '}');
    }
}

std::string Server::greetings() const {
    try {
        std::string body = R"({"greeting":)" + json_string(m_settings.greeting);
        if constexpr (k_has_language) {
            body += R"(,"language":)" + json_string(m_settings.language);
        }
        return make_response(200, body + R"(,"greetings":)" + m_database.greetings_json() + '}');
    } catch (const Error& e) {
        log_line(e.what());
        return make_response(500, R"({"error":)" + json_string(e.what()) + '}');
    }
}

} // namespace

int run_serve(Args args) {
    const auto options = parse_options("serve", args, {"--config", "--root"});
    if (!options.contains("--config")) {
        throw Error(ErrorKind::usage, "serve: --config FILE is required");
    }
    const std::string root = options.contains("--root") ? options.at("--root") : "";
    if (!root.empty() && root.front() != '/') {
        throw Error(ErrorKind::usage,
                    "serve: --root must be an absolute path, got \"" + root + "\"");
    }
    close_inherited_fds();
    Fd signal_pipe = install_signal_pipe();
    const Settings settings = load_settings(options.at("--config"));
    Database database(below_root(root, settings.database), settings.cluster.has_value());
    Fd listener = listen_local(settings.port);
    std::cout << "greeter " << k_version << " listening on " << k_host << ':' << settings.port
              << std::endl;
    std::optional<Cluster> cluster;
    if (settings.cluster) {
        g_log_times = true;
        log_line(std::string(k_version) + " listening on port " + std::to_string(settings.port) +
                 " as " + settings.cluster->node + ", cluster lease " + settings.cluster->lease);
        cluster.emplace(*settings.cluster, settings.port, database, log_line);
    }
    Server server(settings, database, cluster ? &*cluster : nullptr, std::move(listener),
                  std::move(signal_pipe));
    const int signal = server.run();
    log_line(std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
    return 0;
}

} // namespace greeter
