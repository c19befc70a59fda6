#pragma once

// Reserving room for the envelope head so the payload is written once, straight into place.

#include "bundler/collect.hpp"
#include "manifest-schema/manifest.hpp"

#include <functional>
#include <string>
#include <vector>

namespace ferry::bundler {

inline constexpr std::uint64_t k_tar_block = 512;

// Where the payload's data starts and how large the padded manifest must be to end there.
struct HeadLayout {
    std::uint64_t manifest_size = 0; // a multiple of 512
    std::uint64_t payload_offset = 0;
};

// Plans the head for MANIFEST (files listed, payload not yet written) from upper bounds of the
// compressed payload's size and chunk count; SIGNATURE_SIZES gives the size of each
// signature file of a manifest text.
[[nodiscard]] HeadLayout plan_head(const schema::Manifest& manifest, const std::vector<PlannedFile>& files,
                                   std::uint64_t chunk_size,
                                   const std::function<std::vector<std::size_t>(const std::string&)>& signature_sizes);

// Where the payload's data starts in a bundle whose manifest member is MANIFEST_SIZE bytes (a
// multiple of 512) and whose signature members have SIGNATURE_SIZES: every member's header, and
// its data rounded up to whole blocks.
[[nodiscard]] std::uint64_t payload_offset(std::uint64_t manifest_size, const std::vector<std::size_t>& signature_sizes);

// MANIFEST followed by a YAML comment line of spaces so it is exactly SIZE bytes.
[[nodiscard]] std::string pad_manifest(std::string manifest, std::uint64_t size);

} // namespace ferry::bundler
