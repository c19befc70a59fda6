#include "http.hpp"

#include "error.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>

namespace greeter {
namespace {

using Clock = std::chrono::steady_clock;

// The most of an answer `greeter check` reads; greeter's own answers are far smaller.
constexpr std::size_t k_max_response = 1 << 20;

// strerror's text, lower-cased to read as part of a sentence.
[[nodiscard]] std::string errno_text(int error) {
    std::string text = std::strerror(error);
    if (!text.empty() && text.front() >= 'A' && text.front() <= 'Z') {
        text.front() = static_cast<char>(text.front() - 'A' + 'a');
    }
    return text;
}

[[nodiscard]] sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

[[nodiscard]] bool set_nonblocking_cloexec(int fd) {
    const int flags = fcntl(fd, F_GETFL);
    return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 &&
           fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

// Waits until FD is ready for EVENTS; false if DEADLINE passed first.
[[nodiscard]] bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            return false;
        }
        pollfd entry{fd, events, 0};
        const int ready = poll(&entry, 1, static_cast<int>(left.count()));
        if (ready > 0) {
            return true;
        }
        if (ready < 0 && errno != EINTR) {
            return false;
        }
    }
}

[[nodiscard]] Error unhealthy(const std::string& message) {
    return {ErrorKind::unhealthy, message};
}

// The status code of the response TEXT, or 0 if its first line is not "HTTP/1.x NNN ...".
[[nodiscard]] int status_of(std::string_view text) {
    if (text.size() < 12 || text.substr(0, 7) != "HTTP/1." || text[8] != ' ') {
        return 0;
    }
    int status = 0;
    for (const char c : text.substr(9, 3)) {
        if (c < '0' || c > '9') {
            return 0;
        }
        status = status * 10 + (c - '0');
    }
    return status;
}

[[nodiscard]] std::string_view reason_phrase(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 403:
        return "Forbidden";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

} // namespace

Fd& Fd::operator=(Fd&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0) {
            close(m_fd);
        }
        m_fd = other.m_fd;
        other.m_fd = -1;
    }
    return *this;
}

Fd::~Fd() {
    if (m_fd >= 0) {
        close(m_fd);
    }
}

Fd listen_local(int port) {
    const std::string where = std::string(k_host) + ':' + std::to_string(port);
    Fd fd(socket(AF_INET, SOCK_STREAM, 0));
    if (fd.get() < 0 || !set_nonblocking_cloexec(fd.get())) {
        throw Error(ErrorKind::network, where + ": cannot create a socket: " + errno_text(errno));
    }
    // A restart must not wait for the previous run's connections to leave TIME_WAIT.
    const int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in address = loopback(port);
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        const int error = errno;
        throw Error(ErrorKind::network, where + ": cannot listen: " + errno_text(error),
                    error == EADDRINUSE ? "another process uses port " + std::to_string(port) +
                                              ": stop it, or set another PORT (or GREETER_PORT)"
                                        : "");
    }
    if (listen(fd.get(), SOMAXCONN) != 0) {
        throw Error(ErrorKind::network, where + ": cannot listen: " + errno_text(errno));
    }
    return fd;
}

std::size_t end_of_head(std::string_view text) {
    const auto crlf = text.find("\r\n\r\n");
    const auto lf = text.find("\n\n");
    if (crlf != std::string_view::npos && (lf == std::string_view::npos || crlf < lf)) {
        return crlf + 4;
    }
    return lf == std::string_view::npos ? lf : lf + 2;
}

std::optional<Request> parse_request(std::string_view text) {
    std::string_view line = text.substr(0, text.find('\n'));
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    const auto first_space = line.find(' ');
    const auto last_space = line.rfind(' ');
    if (first_space == std::string_view::npos || first_space == last_space) {
        return std::nullopt;
    }
    const std::string_view method = line.substr(0, first_space);
    const std::string_view target = line.substr(first_space + 1, last_space - first_space - 1);
    const std::string_view version = line.substr(last_space + 1);
    if (method.empty() || target.empty() || target.front() != '/' ||
        target.find(' ') != std::string_view::npos || version.substr(0, 7) != "HTTP/1.") {
        return std::nullopt;
    }
    const auto question = target.find('?');
    return Request{std::string(method),
                   std::string(target.substr(0, question)),
                   question == std::string_view::npos ? std::string()
                                                      : std::string(target.substr(question + 1)),
                   {}};
}

std::optional<std::size_t> content_length(std::string_view text) {
    std::size_t at = 0;
    while (at < text.size()) {
        const auto end = text.find('\n', at);
        std::string_view line = text.substr(at, end == std::string_view::npos ? end : end - at);
        at = end == std::string_view::npos ? text.size() : end + 1;
        constexpr std::string_view k_header = "content-length";
        const auto colon = line.find(':');
        if (colon != k_header.size()) {
            continue;
        }
        std::string name(line.substr(0, colon));
        for (char& c : name) {
            c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        if (name != k_header) {
            continue;
        }
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
            value.remove_prefix(1);
        }
        while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) {
            value.remove_suffix(1);
        }
        std::size_t length = 0;
        const auto [end_of_number, ec] =
            std::from_chars(value.data(), value.data() + value.size(), length);
        if (ec != std::errc() || end_of_number != value.data() + value.size()) {
            return std::nullopt;
        }
        return length;
    }
    return 0;
}

std::optional<std::string> query_value(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const auto equal = pair.find('=');
        if (pair.substr(0, equal) != name) {
            continue;
        }
        const std::string_view raw =
            equal == std::string_view::npos ? std::string_view() : pair.substr(equal + 1);
        std::string value;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '+') {
                value += ' ';
            } else if (raw[i] == '%' && i + 2 < raw.size()) {
                unsigned code = 0;
                const auto [end, ec] =
                    std::from_chars(raw.data() + i + 1, raw.data() + i + 3, code, 16);
                if (ec != std::errc() || end != raw.data() + i + 3) {
                    return std::nullopt;
                }
                value += static_cast<char>(code);
                i += 2;
            } else if (raw[i] == '%') {
                return std::nullopt;
            } else {
                value += raw[i];
            }
        }
        return value;
    }
    return std::nullopt;
}

std::string url_encode(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out += c;
        } else {
            char escaped[4];
            std::snprintf(escaped, sizeof escaped, "%%%02X", static_cast<unsigned char>(c));
            out += escaped;
        }
    }
    return out;
}

std::string make_response(int status, std::string_view body, std::string_view type) {
    std::string response = "HTTP/1.0 " + std::to_string(status) + ' ';
    response += reason_phrase(status);
    response += "\r\nContent-Type: ";
    response += type;
    response += "\r\nContent-Length: ";
    response += std::to_string(body.size() + 1);
    response += "\r\nConnection: close\r\n\r\n";
    response += body;
    response += '\n';
    return response;
}

std::string local_url(int port, std::string_view path) {
    return "http://" + std::string(k_host) + ':' + std::to_string(port) + std::string(path);
}

Response http_get(int port, std::string_view path, std::chrono::milliseconds timeout) {
    return http_request(port, "GET", path, {}, timeout);
}

Response http_request(int port, std::string_view method, std::string_view path,
                      std::string_view body, std::chrono::milliseconds timeout) {
    const std::string where = local_url(port, path);
    const std::string no_answer =
        where + ": no answer within " + std::to_string(timeout.count() / 1000) + " s";
    const auto deadline = Clock::now() + timeout;

    const Fd fd(socket(AF_INET, SOCK_STREAM, 0));
    if (fd.get() < 0 || !set_nonblocking_cloexec(fd.get())) {
        throw unhealthy(where + ": cannot create a socket: " + errno_text(errno));
    }
    const sockaddr_in address = loopback(port);
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
        errno != EINPROGRESS) {
        throw unhealthy(where + ": " + errno_text(errno));
    }
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
        throw unhealthy(no_answer);
    }
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
        throw unhealthy(where + ": " + errno_text(error));
    }

    std::string request = std::string(method) + ' ' + std::string(path) +
                          " HTTP/1.0\r\nHost: " + std::string(k_host) + ':' + std::to_string(port) +
                          "\r\n";
    if (method != "GET") {
        request +=
            "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n";
    }
    request += "\r\n";
    request += body;
    std::size_t sent = 0;
    while (sent < request.size()) {
        if (!wait_for(fd.get(), POLLOUT, deadline)) {
            throw unhealthy(no_answer);
        }
        const auto n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR && errno != EAGAIN) {
            throw unhealthy(where + ": cannot send the request: " + errno_text(errno));
        }
        sent += n > 0 ? static_cast<std::size_t>(n) : 0;
    }

    std::string text;
    char buffer[4096];
    for (;;) {
        if (!wait_for(fd.get(), POLLIN, deadline)) {
            throw unhealthy(no_answer);
        }
        const auto n = recv(fd.get(), buffer, sizeof buffer, 0);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            throw unhealthy(where + ": cannot read the answer: " + errno_text(errno));
        }
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > k_max_response) {
            throw unhealthy(where + ": answer larger than " + std::to_string(k_max_response) +
                            " bytes");
        }
    }
    const int status = status_of(text);
    const auto head_end = end_of_head(text);
    if (status == 0 || head_end == std::string::npos) {
        throw unhealthy(where + ": not an HTTP/1.x answer");
    }
    return {status, text.substr(head_end)};
}

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
                out += escaped;
            } else {
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

std::optional<std::string> json_string_field(std::string_view text, std::string_view key) {
    const std::string quoted = json_string(key);
    auto at = text.find(quoted);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    at = text.find_first_not_of(" \t\r\n", at + quoted.size());
    if (at == std::string_view::npos || text[at] != ':') {
        return std::nullopt;
    }
    at = text.find_first_not_of(" \t\r\n", at + 1);
    if (at == std::string_view::npos || text[at] != '"') {
        return std::nullopt;
    }
    std::string value;
    for (++at; at < text.size() && text[at] != '"'; ++at) {
        if (text[at] == '\\' && at + 1 < text.size()) {
            ++at;
        }
        value += text[at];
    }
    if (at == text.size()) {
        return std::nullopt;
    }
    return value;
}

} // namespace greeter
