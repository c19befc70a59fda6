#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

// Seconds since the epoch, UTC.
using UnixTime = std::int64_t;

// Formats T as RFC 3339 UTC: 2026-11-21T08:00:00Z.
[[nodiscard]] std::string format_time(UnixTime t);

// Parses exactly YYYY-MM-DDTHH:MM:SSZ; nullopt for anything else.
[[nodiscard]] std::optional<UnixTime> parse_time(std::string_view text);

// The current time.
[[nodiscard]] UnixTime now();

// SOURCE_DATE_EPOCH if set (throws a usage Error if malformed), else the current time.
[[nodiscard]] UnixTime build_time();

} // namespace ferry
