#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace ferry {

// What went wrong, in the terms the exit code reports.
enum class ErrorKind {
    usage,        // bad command line
    input,        // a file given to us (spec, trust store, key) is missing or invalid
    io,           // reading or writing failed
    verification, // the bundle is not authentic or not intact
    policy,       // the bundle is authentic but refused (expired, other product, downgrade)
    rolled_back,  // the procedure failed and the node was rolled back
    failed,       // the procedure failed and the node was not rolled back
    interrupted,  // a run stopped half-way and waits for resume or rollback
    internal,     // a bug
};

// The one exception type: a kind, a message naming the thing and the place, an optional hint.
class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, std::string message, std::string hint = {});

    [[nodiscard]] ErrorKind kind() const { return m_kind; }
    [[nodiscard]] const std::string& hint() const { return m_hint; }

    // Returns a copy whose message is "CONTEXT: message", as errors travel up.
    [[nodiscard]] Error with_context(const std::string& context) const;

private:
    ErrorKind m_kind;
    std::string m_hint;
};

// TEXT for a message: control characters (NUL, newline, ...) and bytes that are not UTF-8
// escaped as \xNN, C1, bidirectional controls and line separators as \uNNNN, so a name from a
// hostile bundle can neither cut a message short, forge a line of output nor reorder it.
[[nodiscard]] std::string printable(std::string_view text);

// TEXT in double quotes, escaped as printable() does (and \" and \\).
[[nodiscard]] std::string quoted(std::string_view text);

// The kind's name in JSON ("usage", "verification", ...).
[[nodiscard]] std::string_view kind_name(ErrorKind kind);

// The `result` a --json document gives for a failure of KIND: refused, not_verified, failed,
// interrupted or error (docs/json.md).
[[nodiscard]] std::string_view failure_result(ErrorKind kind);

// The documented exit code of each kind (docs/exit-codes in README.md).
[[nodiscard]] int exit_code(ErrorKind kind);


// Throws an io Error "WHAT: strerror(errno)".
[[noreturn]] void throw_errno(const std::string& what);

} // namespace ferry
