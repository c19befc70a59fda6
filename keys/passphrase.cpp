#include "keys/passphrase.hpp"

#include "core/error.hpp"
#include "core/handles.hpp"

#include <sodium.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

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

namespace {

// The passphrase files named with set_passphrase_file, by the key file's canonical path.
std::map<std::filesystem::path, std::filesystem::path>& passphrase_files() {
    static std::map<std::filesystem::path, std::filesystem::path> files;
    return files;
}

std::filesystem::path canonical_key(const std::filesystem::path& key) {
    std::error_code ec;
    auto path = std::filesystem::weakly_canonical(key, ec);
    return ec ? key : path;
}

std::size_t count_characters(std::string_view text) {
    std::size_t count = 0;
    for (const char c : text) {
        count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0; // not a continuation byte
    }
    return count;
}

// Opens FILE and checks that it is fit to hold a passphrase; returns the open descriptor.
Fd open_passphrase_file(const std::filesystem::path& file) {
    const std::string where = "passphrase file " + file.string();
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW));
    if (!fd.valid()) {
        throw Error(ErrorKind::usage, where + ": cannot open: " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno(where);
    }
    if (!S_ISREG(st.st_mode)) {
        throw Error(ErrorKind::usage, where + ": not a regular file");
    }
    if (st.st_uid != ::geteuid()) {
        throw Error(ErrorKind::usage, where + ": owned by uid " + std::to_string(st.st_uid) +
                                          ", not by the user running this (uid " + std::to_string(::geteuid()) + ")",
                    "keep each key's passphrase file in its holder's own account");
    }
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw Error(ErrorKind::usage, where + ": readable or writable by others (mode " + mode + ")",
                    "chmod 600 " + file.string());
    }
    return fd;
}

} // namespace

void check_new_passphrase(std::string_view passphrase, std::string_view source) {
    const std::size_t chars = count_characters(passphrase);
    if (chars < k_min_new_passphrase_chars) {
        throw Error(ErrorKind::usage,
                    "the passphrase " + std::string(source) + " is too short (" + std::to_string(chars) +
                        " characters; a new key needs at least " + std::to_string(k_min_new_passphrase_chars) + ")",
                    "use a few unrelated words; see docs/keys.md (\"Passphrases\")");
    }
}

std::string read_new_passphrase(std::string_view prompt) {
    std::string passphrase = read_passphrase(prompt, true);
    try {
        check_new_passphrase(passphrase, std::getenv(k_passphrase_env) != nullptr
                                             ? "in " + std::string(k_passphrase_env)
                                             : std::string("given"));
    } catch (...) {
        sodium_memzero(passphrase.data(), passphrase.size());
        throw;
    }
    return passphrase;
}

std::string read_passphrase_file(const std::filesystem::path& file) {
    const std::string where = "passphrase file " + file.string();
    const Fd fd = open_passphrase_file(file);
    WipedString text;
    while (true) {
        char c = 0;
        const auto got = ::read(fd.get(), &c, 1);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            throw_errno(where);
        }
        if (got == 0 || c == '\n') {
            break;
        }
        if (text.text().size() == k_max_passphrase_size) {
            throw Error(ErrorKind::usage,
                        where + ": first line longer than " + std::to_string(k_max_passphrase_size) + " bytes");
        }
        text.text() += c;
    }
    if (!text.text().empty() && text.text().back() == '\r') {
        text.text().pop_back();
    }
    if (text.text().empty()) {
        throw Error(ErrorKind::usage, where + ": empty (the passphrase is its first line)");
    }
    return text.text();
}

void set_passphrase_file(const std::filesystem::path& key, const std::filesystem::path& file) {
    (void)open_passphrase_file(file); // refused now, before any work is done
    const auto [it, added] = passphrase_files().emplace(canonical_key(key), file);
    if (!added) {
        throw Error(ErrorKind::usage, "--passphrase-file: key " + key.string() + " is given two passphrase files (" +
                                          it->second.string() + " and " + file.string() + ")");
    }
}

std::string passphrase_for_key(const std::filesystem::path& key) {
    const auto& files = passphrase_files();
    if (const auto it = files.find(canonical_key(key)); it != files.end()) {
        return read_passphrase_file(it->second);
    }
    return read_passphrase("passphrase for " + key.string() + ": ", false);
}

} // namespace ferry::keys
