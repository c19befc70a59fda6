#include "version.hpp"

#include <cctype>
#include <charconv>
#include <sstream>

namespace ferry::schema {

namespace {

bool parse_number(std::string_view s, unsigned long& out) {
    if (s.empty() || (s.size() > 1 && s[0] == '0')) {
        return false;
    }
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size();
}

bool valid_identifiers(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = s.find('.', start);
        const std::string_view id = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (id.empty()) {
            return false;
        }
        for (const char c : id) {
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) {
                return false;
            }
        }
        if (dot == std::string_view::npos) {
            return true;
        }
        start = dot + 1;
    }
}

int compare_prerelease(const std::string& a, const std::string& b) {
    if (a == b) {
        return 0;
    }
    if (a.empty()) {
        return 1; // a release ranks above its pre-releases
    }
    if (b.empty()) {
        return -1;
    }
    std::istringstream sa(a), sb(b);
    std::string ia, ib;
    for (;;) {
        const bool more_a = static_cast<bool>(std::getline(sa, ia, '.'));
        const bool more_b = static_cast<bool>(std::getline(sb, ib, '.'));
        if (!more_a || !more_b) {
            return more_a ? 1 : (more_b ? -1 : 0);
        }
        unsigned long na = 0, nb = 0;
        const bool num_a = parse_number(ia, na);
        const bool num_b = parse_number(ib, nb);
        if (num_a && num_b && na != nb) {
            return na < nb ? -1 : 1;
        }
        if (num_a != num_b) {
            return num_a ? -1 : 1;
        }
        if (!num_a && ia != ib) {
            return ia < ib ? -1 : 1;
        }
    }
}

} // namespace

int Version::compare(const Version& o) const {
    for (const auto& [a, b] : {std::pair{major, o.major}, {minor, o.minor}, {patch, o.patch}}) {
        if (a != b) {
            return a < b ? -1 : 1;
        }
    }
    return compare_prerelease(prerelease, o.prerelease);
}

std::string Version::str() const {
    std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    if (!prerelease.empty()) {
        s += "-" + prerelease;
    }
    if (!build.empty()) {
        s += "+" + build;
    }
    return s;
}

std::optional<Version> parse_version(std::string_view text) {
    Version v;
    const std::size_t plus = text.find('+');
    if (plus != std::string_view::npos) {
        v.build = std::string(text.substr(plus + 1));
        if (!valid_identifiers(v.build)) {
            return std::nullopt;
        }
        text = text.substr(0, plus);
    }
    const std::size_t dash = text.find('-');
    if (dash != std::string_view::npos) {
        v.prerelease = std::string(text.substr(dash + 1));
        if (!valid_identifiers(v.prerelease)) {
            return std::nullopt;
        }
        text = text.substr(0, dash);
    }
    const std::size_t d1 = text.find('.');
    const std::size_t d2 = d1 == std::string_view::npos ? d1 : text.find('.', d1 + 1);
    if (d2 == std::string_view::npos) {
        return std::nullopt;
    }
    if (!parse_number(text.substr(0, d1), v.major) ||
        !parse_number(text.substr(d1 + 1, d2 - d1 - 1), v.minor) ||
        !parse_number(text.substr(d2 + 1), v.patch)) {
        return std::nullopt;
    }
    return v;
}

bool VersionRange::contains(const Version& v) const {
    for (const auto& c : comparators) {
        const int r = v.compare(c.version);
        const bool ok = (c.op == ">=" && r >= 0) || (c.op == ">" && r > 0) ||
                        (c.op == "<=" && r <= 0) || (c.op == "<" && r < 0) || (c.op == "=" && r == 0);
        if (!ok) {
            return false;
        }
    }
    return true;
}

std::optional<VersionRange> parse_range(std::string_view text) {
    VersionRange range;
    std::istringstream in{std::string(text)};
    std::string word;
    while (in >> word) {
        std::string op;
        for (const char* candidate : {">=", "<=", ">", "<", "="}) {
            if (word.starts_with(candidate)) {
                op = candidate;
                break;
            }
        }
        if (op.empty()) {
            return std::nullopt;
        }
        const auto v = parse_version(std::string_view(word).substr(op.size()));
        if (!v) {
            return std::nullopt;
        }
        range.comparators.push_back({op, *v});
    }
    if (range.comparators.empty()) {
        return std::nullopt;
    }
    return range;
}

} // namespace ferry::schema
