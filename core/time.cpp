#include "time.hpp"

#include "core/error.hpp"

#include <charconv>
#include <cstdlib>
#include <ctime>

namespace ferry {

std::string format_time(UnixTime t) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::optional<UnixTime> parse_time(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SSZ
    if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z') {
        return std::nullopt;
    }
    auto field = [&](std::size_t pos, std::size_t len, int& out) {
        const auto* first = s.data() + pos;
        const auto [ptr, ec] = std::from_chars(first, first + len, out);
        return ec == std::errc() && ptr == first + len;
    };
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!field(0, 4, year) || !field(5, 2, month) || !field(8, 2, day) || !field(11, 2, hour) ||
        !field(14, 2, minute) || !field(17, 2, second)) {
        return std::nullopt;
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
        second > 60) {
        return std::nullopt;
    }
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    const std::time_t t = timegm(&tm);
    if (format_time(t) != s) {
        return std::nullopt; // 31 February and the like
    }
    return static_cast<UnixTime>(t);
}

UnixTime now() { return static_cast<UnixTime>(std::time(nullptr)); }

UnixTime build_time() {
    const char* sde = std::getenv("SOURCE_DATE_EPOCH");
    if (sde == nullptr || *sde == '\0') {
        return now();
    }
    const std::string_view text(sde);
    UnixTime t = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), t);
    if (ec != std::errc() || ptr != text.data() + text.size() || t < 0) {
        throw Error(ErrorKind::usage,
                    "SOURCE_DATE_EPOCH=" + std::string(text) + ": not a number of seconds");
    }
    return t;
}

} // namespace ferry
