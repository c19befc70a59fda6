#include "core/error.hpp"
#include "core/parts.hpp"

#include <doctest/doctest.h>

using namespace ferry;

namespace {

constexpr std::uint64_t k_mib = 1 << 20;

// A bundle of 10 chunks of 4 MiB (the last 1 MiB), 3 KiB of head.
BundleGeometry geometry() {
    return {3072, 9 * 4 * k_mib + k_mib, 4 * k_mib};
}

std::vector<Digest> chunk_digests(std::uint64_t n) {
    std::vector<Digest> out;
    for (std::uint64_t k = 0; k < n; ++k) {
        out.push_back(sha256("chunk " + std::to_string(k)));
    }
    return out;
}

// The candidate a genuine part SPAN of the bundle would be.
PartCandidate genuine(const BundleGeometry& g, const std::vector<Digest>& chunks,
                      const PartSpan& span) {
    PartCandidate c;
    c.file = part_file_name("b.ferry", span.number);
    c.number = span.number;
    c.size = span.size;
    c.first = chunks[span.first_chunk];
    if (span.chunk_count > 1) {
        c.second = chunks[span.first_chunk + 1];
    }
    (void)g;
    return c;
}

std::vector<PartCandidate> others_of(const BundleGeometry& g, const std::vector<Digest>& chunks,
                                     const std::vector<PartSpan>& spans) {
    std::vector<PartCandidate> out;
    for (std::size_t i = 1; i < spans.size(); ++i) {
        out.push_back(genuine(g, chunks, spans[i]));
    }
    return out;
}

} // namespace

TEST_CASE("plan_parts") {
    const BundleGeometry g = geometry();
    SUBCASE("cut on chunk boundaries, the head in the first, the tail in the last") {
        const auto parts = plan_parts(g, 12 * k_mib);
        REQUIRE(parts.size() == 4);
        CHECK(parts[0] == PartSpan{1, 0, 3072 + 8 * k_mib, 0, 2});
        CHECK(parts[1] == PartSpan{2, 3072 + 8 * k_mib, 12 * k_mib, 2, 3});
        CHECK(parts[2] == PartSpan{3, 3072 + 20 * k_mib, 12 * k_mib, 5, 3});
        CHECK(parts[3].first_chunk == 8);
        CHECK(parts[3].chunk_count == 2);
        CHECK(parts[3].offset + parts[3].size == g.file_size());
        for (const auto& p : parts) {
            CHECK(p.size <= 12 * k_mib);
        }
    }
    SUBCASE("a size that holds the whole bundle gives one part") {
        const auto parts = plan_parts(g, k_default_part_size);
        REQUIRE(parts.size() == 1);
        CHECK(parts[0].size == g.file_size());
    }
    SUBCASE("too small for the head and a chunk") {
        REQUIRE_THROWS_WITH(
            (void)plan_parts(g, 4 * k_mib),
            doctest::Contains(
                "part size 4194304 is too small: a part must hold at least 4197376 bytes"));
    }
}

TEST_CASE("parse_size") {
    CHECK(parse_size("4294967295", "--size") == 4294967295u);
    CHECK(parse_size("64M", "--size") == 64 * k_mib);
    CHECK(parse_size("64MiB", "--size") == 64 * k_mib);
    CHECK(parse_size("4G", "--size") == 4ull << 30);
    REQUIRE_THROWS_WITH((void)parse_size("4X", "--size"), "--size: \"4X\" is not a size");
    REQUIRE_THROWS_WITH((void)parse_size("", "--size"), "--size: \"\" is not a size");
    REQUIRE_THROWS_WITH((void)parse_size("0", "--size"), "--size: \"0\" is not a size");
}

TEST_CASE("part_number") {
    CHECK(part_number("/m/x.ferry.001") == 1u);
    CHECK(part_number("x.ferry.012") == 12u);
    CHECK_FALSE(part_number("x.ferry").has_value());
    CHECK_FALSE(part_number("x-1.0.0.ferry.1").has_value());
    CHECK_FALSE(part_number("x.ferry.000").has_value());
    CHECK(part_stem("/m/x.ferry.003") == "x.ferry");
    CHECK(part_file_name("x.ferry", 3) == "x.ferry.003");
}

TEST_CASE("check_part_sequence") {
    const BundleGeometry g = geometry();
    const auto chunks = chunk_digests(g.chunks());
    const auto spans = plan_parts(g, 12 * k_mib);
    auto others = others_of(g, chunks, spans);
    const std::uint64_t first_size = spans[0].size;
    SUBCASE("the genuine parts") {
        CHECK(check_part_sequence(g, chunks, "b.ferry.001", first_size, others) == spans);
    }
    SUBCASE("missing") {
        others.erase(others.begin() + 1);
        REQUIRE_THROWS_WITH(
            (void)check_part_sequence(g, chunks, "b.ferry.001", first_size, others),
            "part 3 (b.ferry.003) is missing: it starts with payload chunk 6 of 10");
    }
    SUBCASE("damaged first chunk") {
        others[1].first = sha256("damaged");
        REQUIRE_THROWS_WITH(
            (void)check_part_sequence(g, chunks, "b.ferry.001", first_size, others),
            doctest::Contains(
                "b.ferry.003 is damaged: its first chunk, payload chunk 6, has sha256"));
    }
    SUBCASE("from another bundle") {
        others[1].first = sha256("other");
        others[1].second = sha256("other 2");
        REQUIRE_THROWS_WITH((void)check_part_sequence(g, chunks, "b.ferry.001", first_size, others),
                            doctest::Contains("b.ferry.003 is not a part of this bundle"));
    }
    SUBCASE("duplicated") {
        const auto number = others[1].number;
        others[1] = others[0];
        others[1].number = number;
        others[1].file = "b.ferry.003";
        REQUIRE_THROWS_WITH(
            (void)check_part_sequence(g, chunks, "b.ferry.001", first_size, others),
            "b.ferry.003 is a duplicate: it starts with payload chunk 3, which b.ferry.002 holds");
    }
    SUBCASE("out of order") {
        std::swap(others[1].number, others[2].number);
        std::swap(others[1].file, others[2].file);
        REQUIRE_THROWS_WITH(
            (void)check_part_sequence(g, chunks, "b.ferry.001", first_size, others),
            "b.ferry.003 is out of order: it starts with payload chunk 9, but part 3 starts with "
            "payload chunk 6, which b.ferry.004 holds");
    }
    SUBCASE("truncated off a chunk boundary") {
        others[1].size -= 10;
        REQUIRE_THROWS_WITH((void)check_part_sequence(g, chunks, "b.ferry.001", first_size, others),
                            doctest::Contains("b.ferry.003 is truncated: 12582902 bytes"));
    }
    SUBCASE("truncated on a chunk boundary") {
        others[0].size -= 4 * k_mib;
        REQUIRE_THROWS_WITH(
            (void)check_part_sequence(g, chunks, "b.ferry.001", first_size, others),
            doctest::Contains("b.ferry.002 is truncated: it ends before payload chunk 5"));
    }
    SUBCASE("the first part truncated") {
        REQUIRE_THROWS_WITH(
            (void)check_part_sequence(g, chunks, "b.ferry.001", first_size - 1, others),
            doctest::Contains("b.ferry.001 is truncated"));
    }
    SUBCASE("a part too many") {
        PartCandidate extra = others.back();
        extra.number = 5;
        extra.file = "b.ferry.005";
        others.push_back(extra);
        REQUIRE_THROWS_WITH(
            (void)check_part_sequence(g, chunks, "b.ferry.001", first_size, others),
            doctest::Contains("b.ferry.005 is not needed: the bundle ends with part 4"));
    }
}

TEST_CASE("place_lone_part") {
    const BundleGeometry g = geometry();
    const auto chunks = chunk_digests(g.chunks());
    const auto spans = plan_parts(g, 12 * k_mib);
    SUBCASE("a middle part and the last part, by their chunks") {
        CHECK(place_lone_part(g, chunks, spans[0], genuine(g, chunks, spans[2]), "b.ferry.001") ==
              spans[2]);
        CHECK(place_lone_part(g, chunks, spans[0], genuine(g, chunks, spans[3]), "b.ferry.001") ==
              spans[3]);
    }
    SUBCASE("named as another part") {
        PartCandidate c = genuine(g, chunks, spans[2]);
        c.number = 2;
        c.file = "b.ferry.002";
        REQUIRE_THROWS_WITH((void)place_lone_part(g, chunks, spans[0], c, "b.ferry.001"),
                            doctest::Contains("b.ferry.002 is out of order: it holds part 3"));
    }
}

TEST_CASE("missing_parts") {
    const BundleGeometry g = geometry();
    const auto spans = plan_parts(g, 12 * k_mib);
    CHECK(describe_missing(missing_parts(g, spans)).empty());
    CHECK(describe_missing(missing_parts(g, {spans[0], spans[2]})) ==
          "parts 2, 4 of 4 (payload chunks 3 to 5, 9 to 10)");
    CHECK(describe_missing(missing_parts(g, {spans[0], spans[3]})) ==
          "parts 2, 3 of 4 (payload chunks 3 to 8)");
    CHECK(describe_missing(missing_parts(g, {spans[0]})) == "payload chunks 3 to 10");
}

TEST_CASE("parse_parts_list") {
    PartsList list;
    list.bundle = "b.ferry";
    list.manifest_sha256 = std::string(64, 'a');
    list.bundle_size = 100;
    list.chunks = 10;
    list.chunk_size = 4 * k_mib;
    list.parts = {{PartSpan{1, 0, 60, 0, 6}, sha256("one"), "b.ferry.001"},
                  {PartSpan{2, 60, 40, 6, 4}, sha256("two"), "b.ferry.002"}};
    const PartsList back = parse_parts_list(format_parts_list(list), "b.ferry.parts");
    CHECK(back.bundle == "b.ferry");
    CHECK(back.manifest_sha256 == list.manifest_sha256);
    REQUIRE(back.parts.size() == 2);
    CHECK(back.parts[1].span == list.parts[1].span);
    CHECK(back.parts[1].sha256 == list.parts[1].sha256);
    CHECK(back.parts[1].file == "b.ferry.002");
    REQUIRE_THROWS_WITH((void)parse_parts_list("# ferry-parts/1\nnonsense here now\n", "l.parts"),
                        "l.parts:2: unexpected line \"nonsense here now\"");
}
