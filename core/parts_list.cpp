// The parts list beside a split bundle's parts (docs/format.md, "Parts"): written for
// sha256sum -c, read back by inspect of a lone part.

#include "parts.hpp"

#include "core/error.hpp"

#include <charconv>

namespace ferry {

std::string format_parts_list(const PartsList& list) {
    std::string out = "# " + std::string(k_parts_list_format) + "\n";
    out += "# bundle " + list.bundle + " size " + std::to_string(list.bundle_size) +
           " manifest-sha256 " + list.manifest_sha256 + " chunks " + std::to_string(list.chunks) +
           " chunk-size " + std::to_string(list.chunk_size) + " parts " +
           std::to_string(list.parts.size()) + "\n";
    for (const auto& p : list.parts) {
        out += "# part " + std::to_string(p.span.number) + " offset " +
               std::to_string(p.span.offset) + " size " + std::to_string(p.span.size) + " chunks " +
               std::to_string(p.span.first_chunk + 1) + "-" + std::to_string(p.span.end_chunk()) +
               "\n";
        out += to_hex(p.sha256) + "  " + p.file + "\n";
    }
    return out;
}

PartsList parse_parts_list(std::string_view text, const std::string& file) {
    PartsList list;
    std::size_t line_no = 0;
    std::optional<PartSpan> pending;
    auto fail = [&](const std::string& why) {
        throw Error(ErrorKind::input, file + ":" + std::to_string(line_no) + ": " + why,
                    "a parts list is written by ferry-bundler build --split-size or split");
    };
    auto number = [&](const std::string& s) {
        std::uint64_t v = 0;
        if (s.empty() ||
            std::from_chars(s.data(), s.data() + s.size(), v).ptr != s.data() + s.size()) {
            fail(ferry::quoted(s) + " is not a number");
        }
        return v;
    };
    while (!text.empty()) {
        ++line_no;
        const auto eol = text.find('\n');
        const std::string line(text.substr(0, eol));
        text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
        std::vector<std::string> words;
        for (std::size_t i = 0; i < line.size();) {
            const auto j = std::min(line.find(' ', i), line.size());
            if (j > i) {
                words.push_back(line.substr(i, j - i));
            }
            i = j + 1;
        }
        if (line_no == 1) {
            if (line != "# " + std::string(k_parts_list_format)) {
                fail("not a " + std::string(k_parts_list_format) + " parts list");
            }
        } else if (words.size() == 13 && words[1] == "bundle") {
            list.bundle = words[2];
            list.bundle_size = number(words[4]);
            list.manifest_sha256 = words[6];
            list.chunks = number(words[8]);
            list.chunk_size = number(words[10]);
        } else if (words.size() == 9 && words[1] == "part") {
            const auto dash = words[8].find('-');
            if (dash == std::string::npos) {
                fail("bad chunk range " + ferry::quoted(words[8]));
            }
            const std::uint64_t first = number(words[8].substr(0, dash));
            const std::uint64_t last = number(words[8].substr(dash + 1));
            if (first == 0 || last < first) {
                fail("bad chunk range " + ferry::quoted(words[8]));
            }
            pending = PartSpan{static_cast<unsigned>(number(words[2])), number(words[4]),
                               number(words[6]), first - 1, last - first + 1};
        } else if (words.size() == 2 && !line.starts_with("#") && pending) {
            PartsListEntry e;
            e.span = *pending;
            if (!parse_digest_hex(words[0], e.sha256)) {
                fail("bad sha256 " + ferry::quoted(words[0]));
            }
            e.file = words[1];
            list.parts.push_back(e);
            pending.reset();
        } else if (!line.empty()) {
            fail("unexpected line " + ferry::quoted(line));
        }
    }
    if (list.bundle.empty() || list.parts.empty()) {
        ++line_no;
        fail("no bundle line or no parts");
    }
    return list;
}

} // namespace ferry
