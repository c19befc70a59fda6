// Fuzz target: parse_parts_list, the parts list beside a split bundle's parts (unsigned, read
// by `inspect` of a lone part).
//
// Oracle, besides "no crash, only ferry::Error": an accepted list written out again by
// format_parts_list parses to the same parts.

#include "fuzz.hpp"

#include "core/parts.hpp"

namespace {

using namespace ferry;

void check_round_trip(std::string_view text) {
    const PartsList list = parse_parts_list(text, "b.ferry.parts");
    const PartsList again = parse_parts_list(format_parts_list(list), "emitted.parts");
    fuzz::check(again.parts.size() == list.parts.size(), "format_parts_list loses parts");
    for (std::size_t i = 0; i < list.parts.size(); ++i) {
        fuzz::check(again.parts[i].span == list.parts[i].span &&
                        again.parts[i].sha256 == list.parts[i].sha256 &&
                        again.parts[i].file == list.parts[i].file,
                    "format_parts_list does not round-trip");
    }
}

} // namespace

FERRY_FUZZ_TARGET(parts_list) {
    const std::string_view text = ferry::fuzz::as_text(data, size);
    ferry::fuzz::expect_errors([&] { check_round_trip(text); });
    return 0;
}
