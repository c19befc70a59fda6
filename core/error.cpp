#include "error.hpp"

#include <cerrno>
#include <cstring>

namespace ferry {

Error::Error(ErrorKind kind, std::string message, std::string hint)
    : std::runtime_error(std::move(message)), m_kind(kind), m_hint(std::move(hint)) {}

Error Error::with_context(const std::string& context) const {
    return Error(m_kind, context + ": " + what(), m_hint);
}

int exit_code(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::usage:
        return 2;
    case ErrorKind::input:
    case ErrorKind::io:
    case ErrorKind::internal:
        return 1;
    case ErrorKind::verification:
        return 3;
    case ErrorKind::policy:
        return 4;
    case ErrorKind::rolled_back:
        return 5;
    case ErrorKind::failed:
        return 6;
    }
    return 1;
}

void throw_errno(const std::string& what) {
    throw Error(ErrorKind::io, what + ": " + std::strerror(errno));
}

} // namespace ferry
