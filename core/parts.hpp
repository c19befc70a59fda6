#pragma once

// A bundle written as numbered parts for media with a file size limit (see docs/format.md,
// "Parts"): byte ranges of the bundle cut on payload chunk boundaries, so `cat` joins them
// back into the bundle and each part is identified and checked by its chunks' hashes in the
// signed manifest, never by its name alone.

#include "core/sha256.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// The largest file FAT32 holds.
inline constexpr std::uint64_t k_default_part_size = (std::uint64_t{4} << 30) - 1;
// The parts list written beside the parts: NAME-VERSION.ferry.parts.
inline constexpr std::string_view k_parts_list_suffix = ".parts";
inline constexpr std::string_view k_parts_list_format = "ferry-parts/1";

// Where a bundle's payload lies, as its manifest and envelope head say.
struct BundleGeometry {
    std::uint64_t head_size = 0; // everything before the payload's data
    std::uint64_t payload_size = 0;
    std::uint64_t chunk_size = 0;

    [[nodiscard]] std::uint64_t chunks() const {
        return (payload_size + chunk_size - 1) / chunk_size;
    }
    // The payload's padding and the end-of-archive blocks.
    [[nodiscard]] std::uint64_t tail_size() const {
        return (512 - payload_size % 512) % 512 + 1024;
    }
    [[nodiscard]] std::uint64_t file_size() const { return head_size + payload_size + tail_size(); }
    // Where chunk K starts in the bundle file, and its length.
    [[nodiscard]] std::uint64_t chunk_offset(std::uint64_t k) const {
        return head_size + k * chunk_size;
    }
    [[nodiscard]] std::uint64_t chunk_length(std::uint64_t k) const;
};

// One part: its number (1 for the first) and the byte range and chunks of the bundle it holds.
struct PartSpan {
    unsigned number = 0;
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    std::uint64_t first_chunk = 0;
    std::uint64_t chunk_count = 0;

    [[nodiscard]] std::uint64_t end_chunk() const { return first_chunk + chunk_count; }
    bool operator==(const PartSpan&) const = default;
};

// Cuts a bundle into parts of at most PART_SIZE bytes on chunk boundaries: the first holds the
// head, the last the tail. Throws a usage Error when PART_SIZE cannot hold the head and a chunk.
[[nodiscard]] std::vector<PartSpan> plan_parts(const BundleGeometry& geometry,
                                               std::uint64_t part_size);

// Reads a size such as 4294967295, 64M, 64MiB or 4G (K, M, G, T are powers of 1024).
[[nodiscard]] std::uint64_t parse_size(std::string_view text, std::string_view what);

// "x.ferry" and 3 -> "x.ferry.003".
[[nodiscard]] std::string part_file_name(std::string_view bundle_file, unsigned number);
// The number of a part file by its name ("x.ferry.003" -> 3), if it is named as one.
[[nodiscard]] std::optional<unsigned> part_number(const std::filesystem::path& file);
// The bundle's file name for a part ("x.ferry.003" -> "x.ferry").
[[nodiscard]] std::string part_stem(const std::filesystem::path& file);

// What a part file looks like before it is believed: its size and its first two chunks' hashes.
struct PartCandidate {
    std::filesystem::path file;
    unsigned number = 0; // from its name
    std::uint64_t size = 0;
    std::optional<Digest> first;  // of its first chunk_size bytes (fewer at its end)
    std::optional<Digest> second; // of the next chunk_size bytes, if any
};

// Reads a candidate part of a bundle shaped as GEOMETRY: size and leading chunk hashes (a part
// exactly the size of the last chunk and the tail has that chunk first).
[[nodiscard]] PartCandidate read_part_candidate(const std::filesystem::path& file,
                                                const BundleGeometry& geometry);

// The other part files of FIRST's bundle in FIRST's folder (its name's stem, numbers >= 2), by
// number.
[[nodiscard]] std::vector<PartCandidate> find_other_parts(const std::filesystem::path& first,
                                                          const BundleGeometry& geometry);

// Where a non-first part starts, by its first chunk's hash: the chunk index, preferring
// EXPECTED when several chunks share that hash; nullopt when it is none of CHUNKS.
[[nodiscard]] std::optional<std::uint64_t>
locate_part(const std::vector<Digest>& chunks, const PartCandidate& part,
            std::optional<std::uint64_t> expected = std::nullopt);

// The span a non-first part holds when it starts at chunk START, or throws a verification Error
// naming it when its size does not end on a chunk boundary or at the bundle's end.
[[nodiscard]] PartSpan part_span_at(const BundleGeometry& geometry, const PartCandidate& part,
                                    std::uint64_t start);

// Checks that the parts after a first part of FIRST_SIZE bytes (FIRST_NAME) are the rest of the
// bundle, in order; returns every part's span, the first included. Throws a verification Error
// naming the part that is missing, duplicated, out of order, truncated, damaged or from another
// bundle.
[[nodiscard]] std::vector<PartSpan> check_part_sequence(const BundleGeometry& geometry,
                                                        const std::vector<Digest>& chunks,
                                                        const std::string& first_name,
                                                        std::uint64_t first_size,
                                                        const std::vector<PartCandidate>& others);

// The first part's span alone, or throws a verification Error naming it when it is cut elsewhere.
[[nodiscard]] PartSpan first_part_span(const BundleGeometry& geometry,
                                       const std::string& first_name, std::uint64_t first_size);

// Places a non-first part alone, once the first part (FIRST) is at hand: where it starts by its
// first chunk, its span, and its number where the layout tells it (0 when it cannot). Throws a
// verification Error naming it when it is damaged, truncated, from another bundle, a duplicate
// of the first part, or named as another part than it holds.
[[nodiscard]] PartSpan place_lone_part(const BundleGeometry& geometry,
                                       const std::vector<Digest>& chunks, const PartSpan& first,
                                       const PartCandidate& part, const std::string& first_name);

// What is still missing of a bundle of which the parts HAVE (any order) are at hand.
struct MissingParts {
    std::vector<unsigned> parts; // by number, when the layout tells them
    std::vector<std::pair<std::uint64_t, std::uint64_t>>
        chunks;                    // [first, end) ranges of payload chunks
    std::optional<unsigned> total; // how many parts there are, when known
};
[[nodiscard]] MissingParts missing_parts(const BundleGeometry& geometry,
                                         const std::vector<PartSpan>& have);
// "parts 3, 5 (payload chunks 33 to 48, 65 to 75)", or "" when nothing is missing.
[[nodiscard]] std::string describe_missing(const MissingParts& missing);

// One line of a parts list.
struct PartsListEntry {
    PartSpan span;
    Digest sha256{};
    std::string file;
};

// A parts list: which bundle, and each part's place, size and SHA-256.
struct PartsList {
    std::string bundle;          // NAME-VERSION.ferry
    std::string manifest_sha256; // of the bundle's manifest
    std::uint64_t bundle_size = 0;
    std::uint64_t chunks = 0;
    std::uint64_t chunk_size = 0;
    std::vector<PartsListEntry> parts;
};

// The parts list as text `sha256sum -c` checks (the rest are # comment lines).
[[nodiscard]] std::string format_parts_list(const PartsList& list);
// Reads a parts list; errors name FILE and the line.
[[nodiscard]] PartsList parse_parts_list(std::string_view text, const std::string& file);

} // namespace ferry
