// `greeter serve`: a single-threaded HTTP/1.0 server on 127.0.0.1, one poll loop, one answer per
// connection.

#include "build.hpp"
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
#include <fcntl.h>
#include <iostream>
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
};

class Server {
public:
    Server(const Settings& settings, const Database& database, Fd listener, Fd signal_pipe)
        : m_settings(settings), m_database(database), m_listener(std::move(listener)),
          m_signal_pipe(std::move(signal_pipe)) {}

    // Serves until SIGTERM or SIGINT; returns the signal's number.
    [[nodiscard]] int run();

private:
    [[nodiscard]] int poll_timeout() const;
    void accept_clients();
    void read_request(Client& client);
    void write_answer(Client& client);
    [[nodiscard]] std::string answer(std::string_view head) const;
    [[nodiscard]] std::string health() const;
    [[nodiscard]] std::string greetings() const;

    const Settings& m_settings;
    const Database& m_database;
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
            const short wanted = client.out.empty() ? POLLIN : POLLOUT;
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
    }
}

int Server::poll_timeout() const {
    if (m_clients.empty()) {
        return -1;
    }
    const auto earliest =
        std::min_element(m_clients.begin(), m_clients.end(),
                         [](const Client& a, const Client& b) { return a.deadline < b.deadline; });
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(earliest->deadline - Clock::now());
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
    client.in.append(buffer, static_cast<std::size_t>(n));
    const auto head_end = end_of_head(client.in);
    if (head_end != std::string::npos) {
        client.out = answer(std::string_view(client.in).substr(0, head_end));
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

std::string Server::answer(std::string_view head) const {
    const auto request = parse_request(head);
    std::string response;
    if (!request) {
        log_line("malformed request: 400");
        return make_response(400, R"({"error":"malformed request"})");
    }
    if (request->method != "GET") {
        response = make_response(405, R"({"error":"only GET is supported"})");
    } else if (request->path == "/health") {
        response = health();
    } else if (request->path == "/greetings") {
        response = greetings();
    } else {
        response = make_response(404, R"({"error":"not found","path":)" +
                                          json_string(request->path) + '}');
    }
    log_line(request->method + ' ' + request->path + ' ' + response.substr(9, 3));
    return response;
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
        return make_response(200, R"({"status":"ok",)" + fields + '}');
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
    const Database database(below_root(root, settings.database));
    Fd listener = listen_local(settings.port);
    std::cout << "greeter " << k_version << " listening on " << k_host << ':' << settings.port
              << std::endl;
    Server server(settings, database, std::move(listener), std::move(signal_pipe));
    const int signal = server.run();
    log_line(std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
    return 0;
}

} // namespace greeter
