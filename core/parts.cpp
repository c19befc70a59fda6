#include "parts.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <sys/stat.h>

namespace ferry {

namespace fs = std::filesystem;

namespace {

std::string chunk_word(std::uint64_t k) {
    return "payload chunk " + std::to_string(k + 1);
}

std::string name_of(const PartCandidate& c) {
    return c.file.filename().string();
}

// The part a name numbered NUMBER would have, beside FIRST_NAME ("x.ferry.001").
std::string sibling_name(const std::string& first_name, unsigned number) {
    return part_file_name(part_stem(first_name), number);
}

std::optional<Digest> hash_at(int fd, std::uint64_t offset, std::uint64_t size,
                              const std::string& what) {
    if (size == 0) {
        return std::nullopt;
    }
    std::string data(size, '\0');
    data.resize(read_full_at(fd, data.data(), size, offset, what));
    return sha256(data);
}

// The part number of SPAN's kind of part: 2 + whole parts of N_PER_PART chunks after the first.
std::optional<unsigned> number_from_layout(std::uint64_t first_chunks, const PartSpan& span,
                                           bool last, std::optional<unsigned> named) {
    if (span.first_chunk == first_chunks) {
        return 2;
    }
    const std::uint64_t after = span.first_chunk - first_chunks;
    if (!last) {
        if (after % span.chunk_count == 0) {
            return static_cast<unsigned>(2 + after / span.chunk_count);
        }
        return std::nullopt;
    }
    if (named && *named > 2 && after % (*named - 2) == 0 &&
        after / (*named - 2) >= span.chunk_count) {
        return named;
    }
    return std::nullopt;
}

} // namespace

std::uint64_t BundleGeometry::chunk_length(std::uint64_t k) const {
    return std::min<std::uint64_t>(chunk_size, payload_size - k * chunk_size);
}

std::vector<PartSpan> plan_parts(const BundleGeometry& g, std::uint64_t part_size) {
    const std::uint64_t n = g.chunks();
    // Each unit is cut as a whole: the head with chunk 1, each chunk, the last chunk with the tail.
    auto unit = [&](std::uint64_t k) {
        return (k == 0 ? g.head_size : 0) + g.chunk_length(k) + (k + 1 == n ? g.tail_size() : 0);
    };
    const std::uint64_t needed = std::max({unit(0), n > 1 ? unit(1) : 0, unit(n - 1)});
    if (part_size < needed) {
        throw Error(ErrorKind::usage, "part size " + std::to_string(part_size) +
                                          " is too small: a part must hold at least " +
                                          std::to_string(needed) +
                                          " bytes (the bundle's head with one payload chunk, or "
                                          "the last chunk with the end of the bundle)");
    }
    std::vector<PartSpan> parts;
    PartSpan current{1, 0, 0, 0, 0};
    for (std::uint64_t k = 0; k < n; ++k) {
        const std::uint64_t size = unit(k);
        if (current.size + size > part_size) {
            parts.push_back(current);
            current = PartSpan{current.number + 1, current.offset + current.size, 0, k, 0};
        }
        current.size += size;
        ++current.chunk_count;
    }
    parts.push_back(current);
    return parts;
}

std::uint64_t parse_size(std::string_view text, std::string_view what) {
    std::uint64_t value = 0;
    const char* first = text.data();
    const char* last = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(first, last, value);
    std::string_view unit(ptr, static_cast<std::size_t>(last - ptr));
    static const std::map<std::string_view, int> shifts = {{"", 0},     {"K", 10},   {"KiB", 10},
                                                           {"M", 20},   {"MiB", 20}, {"G", 30},
                                                           {"GiB", 30}, {"T", 40},   {"TiB", 40}};
    const auto shift = shifts.find(unit);
    if (ec != std::errc() || ptr == first || shift == shifts.end() || value == 0 ||
        (shift->second > 0 && value > (UINT64_MAX >> shift->second))) {
        throw Error(ErrorKind::usage,
                    std::string(what) + ": " + ferry::quoted(text) + " is not a size",
                    "give bytes, or a number with K, M, G or T (powers of 1024), e.g. 64M or 4G");
    }
    return value << shift->second;
}

std::string part_file_name(std::string_view bundle_file, unsigned number) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, ".%03u", number);
    return std::string(bundle_file) + suffix;
}

std::optional<unsigned> part_number(const fs::path& file) {
    const std::string name = file.filename().string();
    const auto dot = name.rfind('.');
    if (dot == std::string::npos || name.size() - dot - 1 < 3 || dot == 0) {
        return std::nullopt;
    }
    unsigned value = 0;
    const char* first = name.data() + dot + 1;
    const char* last = name.data() + name.size();
    if (!std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; }) ||
        std::from_chars(first, last, value).ptr != last || value == 0) {
        return std::nullopt;
    }
    return value;
}

std::string part_stem(const fs::path& file) {
    const std::string name = file.filename().string();
    return part_number(file) ? name.substr(0, name.rfind('.')) : name;
}

PartCandidate read_part_candidate(const fs::path& file, const BundleGeometry& g) {
    const std::uint64_t chunk_size = g.chunk_size;
    PartCandidate c;
    c.file = file;
    c.number = part_number(file).value_or(0);
    const Fd fd = open_regular_file(file);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno(file.string());
    }
    c.size = static_cast<std::uint64_t>(st.st_size);
    const std::uint64_t last = g.chunk_length(g.chunks() - 1);
    const std::uint64_t first_length =
        c.size == last + g.tail_size() ? last : std::min(chunk_size, c.size);
    c.first = hash_at(fd.get(), 0, first_length, file.string());
    if (c.size > chunk_size) {
        c.second =
            hash_at(fd.get(), chunk_size, std::min(chunk_size, c.size - chunk_size), file.string());
    }
    return c;
}

std::vector<PartCandidate> find_other_parts(const fs::path& first, const BundleGeometry& geometry) {
    const std::string stem = part_stem(first);
    fs::path dir = first.parent_path();
    if (dir.empty()) {
        dir = ".";
    }
    std::vector<PartCandidate> out;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const auto number = part_number(entry.path());
        if (number && *number >= 2 && part_stem(entry.path()) == stem) {
            out.push_back(
                read_part_candidate(first.parent_path() / entry.path().filename(), geometry));
        }
    }
    std::sort(out.begin(), out.end(),
              [](const PartCandidate& a, const PartCandidate& b) { return a.number < b.number; });
    return out;
}

std::optional<std::uint64_t> locate_part(const std::vector<Digest>& chunks,
                                         const PartCandidate& part,
                                         std::optional<std::uint64_t> expected) {
    if (!part.first) {
        return std::nullopt;
    }
    if (expected && *expected < chunks.size() && chunks[*expected] == *part.first) {
        return expected;
    }
    const auto it = std::find(chunks.begin(), chunks.end(), *part.first);
    if (it != chunks.end()) {
        return static_cast<std::uint64_t>(it - chunks.begin());
    }
    return std::nullopt;
}

PartSpan part_span_at(const BundleGeometry& g, const PartCandidate& part, std::uint64_t start) {
    const std::uint64_t offset = g.chunk_offset(start);
    const std::uint64_t rest = g.file_size() - offset;
    const std::string name = name_of(part);
    PartSpan span{part.number, offset, part.size, start, 0};
    if (part.size == rest) {
        span.chunk_count = g.chunks() - start;
        return span;
    }
    if (part.size > rest) {
        throw Error(ErrorKind::verification,
                    name + ": " + std::to_string(part.size) +
                        " bytes, more than the rest of the bundle from its first chunk (" +
                        std::to_string(rest) + " bytes): trailing data");
    }
    if (part.size % g.chunk_size != 0 || start + part.size / g.chunk_size >= g.chunks()) {
        throw Error(ErrorKind::verification,
                    name + " is truncated: " + std::to_string(part.size) +
                        " bytes, not a whole number of " + std::to_string(g.chunk_size) +
                        "-byte payload chunks nor the rest of the bundle",
                    "copy the part from the original media again");
    }
    span.chunk_count = part.size / g.chunk_size;
    return span;
}

PartSpan first_part_span(const BundleGeometry& g, const std::string& first_name,
                         std::uint64_t first_size) {
    if (first_size == g.file_size()) {
        return PartSpan{1, 0, first_size, 0, g.chunks()};
    }
    if (first_size > g.file_size()) {
        throw Error(ErrorKind::verification, first_name + ": " + std::to_string(first_size) +
                                                 " bytes, more than the whole bundle (" +
                                                 std::to_string(g.file_size()) +
                                                 "): trailing data");
    }
    const std::uint64_t payload = first_size > g.head_size ? first_size - g.head_size : 0;
    if (payload == 0 || payload % g.chunk_size != 0 || payload >= g.payload_size) {
        throw Error(ErrorKind::verification,
                    first_name + " is truncated: " + std::to_string(first_size) +
                        " bytes, which does not end on a payload chunk boundary",
                    "copy the part from the original media again");
    }
    return PartSpan{1, 0, first_size, 0, payload / g.chunk_size};
}

std::vector<PartSpan> check_part_sequence(const BundleGeometry& g,
                                          const std::vector<Digest>& chunks,
                                          const std::string& first_name, std::uint64_t first_size,
                                          const std::vector<PartCandidate>& others) {
    std::vector<PartSpan> spans{first_part_span(g, first_name, first_size)};
    std::map<unsigned, const PartCandidate*> by_number;
    for (const auto& c : others) {
        by_number.emplace(c.number, &c);
    }
    auto holder_of = [&](std::uint64_t chunk, unsigned except) -> const PartCandidate* {
        for (const auto& c : others) {
            if (c.number != except && locate_part(chunks, c, chunk) == chunk) {
                return &c;
            }
        }
        return nullptr;
    };
    auto span_name = [&](const PartSpan& s) { return sibling_name(first_name, s.number); };
    std::uint64_t next = spans.back().end_chunk();
    unsigned number = 2;
    while (next < g.chunks()) {
        const std::string expected_name = sibling_name(first_name, number);
        const auto it = by_number.find(number);
        if (it == by_number.end()) {
            if (const PartCandidate* holder = holder_of(next, 0)) {
                throw Error(ErrorKind::verification,
                            "part " + std::to_string(number) + " (" + expected_name +
                                ") is missing; " + name_of(*holder) +
                                " holds its chunks: the parts are out of order or misnamed",
                            "name the parts as ferry-bundler wrote them");
            }
            throw Error(
                ErrorKind::verification,
                "part " + std::to_string(number) + " (" + expected_name +
                    ") is missing: it starts with " + chunk_word(next) + " of " +
                    std::to_string(g.chunks()),
                "put every part in the same folder, or stage the parts one medium at a time");
        }
        const PartCandidate& c = *it->second;
        const auto start = locate_part(chunks, c, next);
        const std::uint64_t rest = g.file_size() - g.chunk_offset(next);
        if (!start && c.size < std::min(g.chunk_size, rest)) {
            throw Error(ErrorKind::verification,
                        name_of(c) + " is truncated: " + std::to_string(c.size) +
                            " bytes, less than its first payload chunk",
                        "copy the part from the original media again");
        }
        if (!start) {
            if (c.second && next + 1 < chunks.size() && *c.second == chunks[next + 1]) {
                throw Error(ErrorKind::verification,
                            name_of(c) + " is damaged: its first chunk, " + chunk_word(next) +
                                ", has sha256 " + to_hex(*c.first) + ", the manifest says " +
                                to_hex(chunks[next]),
                            "copy the part from the original media again");
            }
            throw Error(
                ErrorKind::verification,
                name_of(c) +
                    " is not a part of this bundle: its first chunk is none of the manifest's "
                    "(a part of another bundle, or damaged)",
                "check which bundle it belongs to with `inspect`, and copy the right part");
        }
        if (*start < next) {
            const auto held = std::find_if(spans.begin(), spans.end(), [&](const PartSpan& s) {
                return *start >= s.first_chunk && *start < s.end_chunk();
            });
            throw Error(
                ErrorKind::verification,
                name_of(c) + " is a duplicate: it starts with " + chunk_word(*start) + ", which " +
                    (held != spans.end() ? span_name(*held) : std::string("an earlier part")) +
                    " holds",
                "copy part " + std::to_string(number) + " from the original media again");
        }
        if (*start > next) {
            if (const PartCandidate* holder = holder_of(next, c.number)) {
                throw Error(ErrorKind::verification,
                            name_of(c) + " is out of order: it starts with " + chunk_word(*start) +
                                ", but part " + std::to_string(number) + " starts with " +
                                chunk_word(next) + ", which " + name_of(*holder) + " holds",
                            "name the parts as ferry-bundler wrote them");
            }
            const PartSpan& previous = spans.back();
            const std::string missing = *start == next + 1
                                            ? chunk_word(next)
                                            : "payload chunks " + std::to_string(next + 1) +
                                                  " to " + std::to_string(*start);
            if (previous.number >= 2 && c.size > previous.size) {
                throw Error(ErrorKind::verification,
                            span_name(previous) + " is truncated: it ends before " +
                                chunk_word(next) + ", and " + name_of(c) + " starts with " +
                                chunk_word(*start) + " (" + missing + " missing)",
                            "copy the part from the original media again");
            }
            throw Error(ErrorKind::verification,
                        name_of(c) + " is out of order: it starts with " + chunk_word(*start) +
                            ", but part " + std::to_string(number) + " starts with " +
                            chunk_word(next) + " (" + missing + " are in no part here)",
                        "put every part in the same folder, named as ferry-bundler wrote them");
        }
        PartSpan span = part_span_at(g, c, next);
        span.number = number;
        spans.push_back(span);
        next = span.end_chunk();
        ++number;
    }
    for (const auto& c : others) {
        if (c.number >= number) {
            throw Error(ErrorKind::verification,
                        name_of(c) + " is not needed: the bundle ends with part " +
                            std::to_string(number - 1) + " (" + span_name(spans.back()) +
                            "); it is a duplicate or a part of another bundle",
                        "remove it from the folder");
        }
    }
    return spans;
}

PartSpan place_lone_part(const BundleGeometry& g, const std::vector<Digest>& chunks,
                         const PartSpan& first, const PartCandidate& c,
                         const std::string& first_name) {
    const std::string name = name_of(c);
    const auto start = locate_part(
        chunks, c, c.number == 2 ? std::optional<std::uint64_t>(first.chunk_count) : std::nullopt);
    if (!start) {
        const auto second =
            c.second ? std::find(chunks.begin(), chunks.end(), *c.second) : chunks.end();
        if (second != chunks.end() && second != chunks.begin()) {
            const auto k = static_cast<std::uint64_t>(second - chunks.begin()) - 1;
            throw Error(ErrorKind::verification,
                        name + " is damaged: its first chunk, " + chunk_word(k) + ", has sha256 " +
                            to_hex(*c.first) + ", the manifest says " + to_hex(chunks[k]),
                        "copy the part from the original media again");
        }
        if (c.size < g.chunk_size && c.number != 0) {
            throw Error(
                ErrorKind::verification,
                name + " is truncated, or not a part of this bundle: " + std::to_string(c.size) +
                    " bytes, less than a payload chunk, and none of the manifest's",
                "copy the part from the original media again");
        }
        throw Error(ErrorKind::verification,
                    name +
                        " is not a part of this bundle: its first chunk is none of the manifest's "
                        "(a part of another bundle, or damaged)",
                    "check which bundle it belongs to with `inspect`, and copy the right part");
    }
    if (*start < first.chunk_count) {
        throw Error(ErrorKind::verification, name + " is a duplicate: it starts with " +
                                                 chunk_word(*start) + ", which " + first_name +
                                                 " holds");
    }
    PartSpan span = part_span_at(g, c, *start);
    const auto number =
        number_from_layout(first.chunk_count, span, span.end_chunk() == g.chunks(),
                           c.number != 0 ? std::optional<unsigned>(c.number) : std::nullopt);
    if (number && c.number != 0 && *number != c.number) {
        throw Error(ErrorKind::verification,
                    name + (*number < c.number ? " is a duplicate" : " is out of order") +
                        ": it holds part " + std::to_string(*number) + " (payload chunks " +
                        std::to_string(span.first_chunk + 1) + " to " +
                        std::to_string(span.end_chunk()) + "), not part " +
                        std::to_string(c.number),
                    "name the parts as ferry-bundler wrote them");
    }
    span.number = number.value_or(0);
    return span;
}

MissingParts missing_parts(const BundleGeometry& g, const std::vector<PartSpan>& have) {
    MissingParts out;
    std::vector<PartSpan> sorted = have;
    std::sort(sorted.begin(), sorted.end(),
              [](const PartSpan& a, const PartSpan& b) { return a.first_chunk < b.first_chunk; });
    std::uint64_t next = 0;
    for (const auto& s : sorted) {
        if (s.first_chunk > next) {
            out.chunks.emplace_back(next, s.first_chunk);
        }
        next = std::max(next, s.end_chunk());
    }
    if (next < g.chunks()) {
        out.chunks.emplace_back(next, g.chunks());
    }
    // The layout: the first part's chunks, and a middle part's (every middle part holds as many).
    const auto first =
        std::find_if(sorted.begin(), sorted.end(), [](const PartSpan& s) { return s.number == 1; });
    const auto middle = std::find_if(sorted.begin(), sorted.end(), [&](const PartSpan& s) {
        return s.number >= 2 && s.end_chunk() < g.chunks();
    });
    const auto last = std::find_if(sorted.begin(), sorted.end(), [&](const PartSpan& s) {
        return s.number >= 3 && s.end_chunk() == g.chunks();
    });
    if (first == sorted.end() || (middle == sorted.end() && last == sorted.end())) {
        return out;
    }
    const std::uint64_t k1 = first->chunk_count;
    // Without a middle part, the last part's number tells how many chunks each middle part holds.
    const std::uint64_t n = middle != sorted.end() ? middle->chunk_count
                                                   : (last->first_chunk - k1) / (last->number - 2);
    if (n == 0 || (middle == sorted.end() && (last->first_chunk - k1) % (last->number - 2) != 0)) {
        return out;
    }
    out.total = static_cast<unsigned>(1 + (g.chunks() - k1 + n - 1) / n);
    for (unsigned p = 1; p <= *out.total; ++p) {
        const std::uint64_t start = p == 1 ? 0 : k1 + (p - 2) * n;
        const bool present = std::any_of(sorted.begin(), sorted.end(),
                                         [&](const PartSpan& s) { return s.first_chunk == start; });
        if (!present) {
            out.parts.push_back(p);
        }
    }
    return out;
}

std::string describe_missing(const MissingParts& missing) {
    if (missing.chunks.empty()) {
        return {};
    }
    std::string ranges;
    for (const auto& [first, end] : missing.chunks) {
        ranges += (ranges.empty() ? "" : ", ") + std::to_string(first + 1) +
                  (end - first > 1 ? " to " + std::to_string(end) : "");
    }
    ranges = (missing.chunks.size() == 1 && missing.chunks[0].second - missing.chunks[0].first == 1
                  ? "payload chunk "
                  : "payload chunks ") +
             ranges;
    if (missing.parts.empty()) {
        return ranges;
    }
    std::string parts;
    for (const unsigned p : missing.parts) {
        parts += (parts.empty() ? "" : ", ") + std::to_string(p);
    }
    return (missing.parts.size() == 1 ? "part " : "parts ") + parts + " of " +
           std::to_string(*missing.total) + " (" + ranges + ")";
}

} // namespace ferry
