#include "keys/passphrase.hpp"

#include "core/error.hpp"
#include "core/handles.hpp"

#include <sodium.h>

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace ferry::keys {

namespace {

constexpr std::size_t k_max_passphrase_size = 1024;
constexpr std::string_view k_terminal = "/dev/tty";

// A std::string that is wiped when it goes away; reserved up front so it never reallocates
// and leaves no copy of the passphrase behind.
class WipedString {
public:
    WipedString() { m_text.reserve(k_max_passphrase_size + 1); }
    WipedString(const WipedString&) = delete;
    WipedString& operator=(const WipedString&) = delete;
    ~WipedString() {
        m_text.resize(m_text.capacity()); // within capacity: no reallocation
        sodium_memzero(m_text.data(), m_text.size());
    }

    [[nodiscard]] std::string& text() { return m_text; }

private:
    std::string m_text;
};

// Restores the terminal settings it was given when it goes away, even on an exception.
class EchoOff {
public:
    explicit EchoOff(int fd) : m_fd(fd) {
        if (::tcgetattr(m_fd, &m_saved) != 0) {
            throw_errno(std::string(k_terminal));
        }
        termios quiet = m_saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        quiet.c_lflag |= ECHONL; // still show the newline the user types
        if (::tcsetattr(m_fd, TCSAFLUSH, &quiet) != 0) {
            throw_errno(std::string(k_terminal));
        }
    }
    EchoOff(const EchoOff&) = delete;
    EchoOff& operator=(const EchoOff&) = delete;
    ~EchoOff() { ::tcsetattr(m_fd, TCSAFLUSH, &m_saved); }

private:
    int m_fd;
    termios m_saved{};
};

void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const auto written = ::write(fd, text.data(), text.size());
        if (written < 0 && errno == EINTR) {
            continue;
        }
        if (written < 0) {
            throw_errno(std::string(k_terminal));
        }
        text.remove_prefix(static_cast<std::size_t>(written));
    }
}

// Shows PROMPT on the terminal FD and reads one line into OUT without echo.
void ask(int fd, std::string_view prompt, std::string& out) {
    write_all(fd, prompt);
    const EchoOff echo_off(fd);
    while (true) {
        char c = 0;
        const auto got = ::read(fd, &c, 1);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            throw_errno(std::string(k_terminal));
        }
        if (got == 0 && out.empty()) {
            write_all(fd, "\n"); // so that the error does not follow the prompt
            throw Error(ErrorKind::usage, "no passphrase given (end of input)");
        }
        if (got == 0 || c == '\n') {
            break;
        }
        if (out.size() == k_max_passphrase_size) {
            throw Error(ErrorKind::usage, "passphrase longer than " +
                                              std::to_string(k_max_passphrase_size) + " bytes");
        }
        out += c;
    }
    if (!out.empty() && out.back() == '\r') {
        out.pop_back();
    }
    if (out.empty()) {
        throw Error(ErrorKind::usage, "empty passphrase refused");
    }
}

} // namespace

std::string read_passphrase(std::string_view prompt, bool confirm) {
    if (const char* const from_env = std::getenv(k_passphrase_env); from_env != nullptr) {
        if (*from_env == '\0') {
            throw Error(ErrorKind::usage, std::string(k_passphrase_env) + " is empty",
                        "unset it to be asked on the terminal");
        }
        return from_env;
    }
    const Fd tty(::open(k_terminal.data(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!tty.valid()) {
        throw Error(ErrorKind::usage, "no terminal to ask for the passphrase",
                    "set FERRY_PASSPHRASE or run from a terminal");
    }
    WipedString first;
    ask(tty.get(), prompt, first.text());
    if (confirm) {
        WipedString second;
        ask(tty.get(), "Repeat the passphrase: ", second.text());
        if (first.text() != second.text()) {
            throw Error(ErrorKind::input, "passphrases do not match");
        }
    }
    return first.text();
}

} // namespace ferry::keys
