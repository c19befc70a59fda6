#pragma once

// greeter's one error type, thrown where a failure is found and reported once by main.

#include <stdexcept>
#include <string>
#include <utility>

namespace greeter {

// What failed; main maps it to the exit code (see docs-*/OPERATIONS.md).
enum class ErrorKind {
    settings,  // the settings file or GREETER_PORT: exit 1
    unhealthy, // `greeter check` found the service down or wrong: exit 1
    usage,     // the command line: exit 2
    database,  // the database is missing, unreadable or its schema too old: exit 3
    network,   // the port cannot be listened on: exit 4
};

// A failure with its kind, a message naming the thing and the place, and an optional hint.
class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message, std::string hint = {})
        : std::runtime_error(message), m_kind(kind), m_hint(std::move(hint)) {}

    // What failed.
    [[nodiscard]] ErrorKind kind() const { return m_kind; }
    // How to fix it, or empty.
    [[nodiscard]] const std::string& hint() const { return m_hint; }

private:
    ErrorKind m_kind;
    std::string m_hint;
};

} // namespace greeter
