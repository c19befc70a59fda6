#pragma once

// Just enough HTTP/1.0 and JSON for greeter: a loopback listener, request and response text, a
// GET client, and JSON strings.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace greeter {

// The only address greeter listens on and connects to.
inline constexpr std::string_view k_host = "127.0.0.1";

// An owned file descriptor, closed by the destructor.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    Fd(Fd&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
    Fd& operator=(Fd&& other) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();

    // The descriptor, or -1.
    [[nodiscard]] int get() const { return m_fd; }

private:
    int m_fd = -1;
};

// A non-blocking, close-on-exec socket listening on 127.0.0.1:PORT.
[[nodiscard]] Fd listen_local(int port);

// The request line of an HTTP request, and its body once read.
struct Request {
    std::string method;
    std::string path;  // without the query string
    std::string query; // after '?', or empty
    std::string body;  // Content-Length bytes after the head
};

// Where the head of a request ends in TEXT (after its blank line), or npos while incomplete.
[[nodiscard]] std::size_t end_of_head(std::string_view text);

// The request line of the head TEXT, or nullopt when it is not "METHOD /PATH HTTP/1.x".
[[nodiscard]] std::optional<Request> parse_request(std::string_view text);

// The Content-Length of the head TEXT, 0 when it has none, or nullopt when it is not a number.
[[nodiscard]] std::optional<std::size_t> content_length(std::string_view text);

// The value of NAME in the query string QUERY ("a=1&b=2"), percent-decoded, or nullopt.
[[nodiscard]] std::optional<std::string> query_value(std::string_view query, std::string_view name);

// TEXT percent-encoded for a query string.
[[nodiscard]] std::string url_encode(std::string_view text);

// A whole HTTP/1.0 response with status STATUS and the body BODY (JSON unless TYPE says).
[[nodiscard]] std::string make_response(int status, std::string_view body,
                                        std::string_view type = "application/json");

// What an HTTP server answered.
struct Response {
    int status = 0;
    std::string body;
};

// "http://127.0.0.1:PORT/PATH", for messages.
[[nodiscard]] std::string local_url(int port, std::string_view path);

// GETs http://127.0.0.1:PORT/PATH within TIMEOUT; throws Error(unhealthy) saying what failed.
[[nodiscard]] Response http_get(int port, std::string_view path, std::chrono::milliseconds timeout);

// Sends METHOD PATH with BODY (JSON) to 127.0.0.1:PORT within TIMEOUT; throws as http_get.
[[nodiscard]] Response http_request(int port, std::string_view method, std::string_view path,
                                    std::string_view body, std::chrono::milliseconds timeout);

// TEXT as a JSON string literal, quotes included.
[[nodiscard]] std::string json_string(std::string_view text);

// The value of the first string member KEY of the JSON text TEXT: enough for greeter's own
// flat answers, not a JSON parser.
[[nodiscard]] std::optional<std::string> json_string_field(std::string_view text,
                                                           std::string_view key);

} // namespace greeter
