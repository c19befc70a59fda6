#pragma once

// Staging a bundle before the maintenance window: a copy of the bundle in the node's state
// folder, each payload chunk checked against the signed manifest as it is copied, then the
// copy verified as a whole. An interrupted stage continues from the last chunk it copied
// (every chunk already copied is hashed again, never trusted); apply of the same manifest
// then reads the copy instead of the media. A split bundle is staged part by part, from as
// many media as it takes, in any order once the first part (the manifest) is staged.

#include "applier/node/plan.hpp"
#include "applier/node/site.hpp"
#include "core/parts.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace ferry::applier {

struct StageOptions {
    SiteOptions site;
    std::filesystem::path bundle;
    std::filesystem::path trust; // empty: the node's own below the root
    PolicyOptions policy;
};

// What a stage did.
struct StageOutcome {
    enum class Result { staged, already_staged, already_installed, partial };
    Result result = Result::staged;
    std::string name;
    std::string version;
    std::string manifest_sha256;
    std::filesystem::path copy;    // the staged bundle
    std::uint64_t chunks = 0;      // in the payload
    std::uint64_t resumed_at = 0;  // chunks found already copied and intact
    std::uint64_t media_bytes = 0; // read from the bundle given, this time
    std::vector<unsigned> parts_now;   // split bundle: parts copied this time
    std::vector<unsigned> parts_had;   // split bundle: parts found already staged
    std::string missing;               // partial: what is still to be staged
};

// The name of a stage result, as JSON and the tests print it.
[[nodiscard]] std::string result_name(StageOutcome::Result result);

// Authenticates the bundle, checks policy as apply would, copies it into the node's staging
// chunk by chunk (continuing an interrupted copy) and verifies the copy in full.
[[nodiscard]] StageOutcome stage_bundle(const StageOptions& options);

// The verified staged copy of the bundle whose manifest has SHA-256 MANIFEST_SHA256, if any.
[[nodiscard]] std::optional<std::filesystem::path> staged_copy(StateDb& state,
                                                               const std::string& manifest_sha256);

// The parts of a split bundle staged so far, and its geometry; empty when none were.
struct StagedParts {
    BundleGeometry geometry;
    std::vector<PartSpan> parts;
};
[[nodiscard]] StagedParts read_staged_parts(const StateLayout& layout, const std::string& manifest_sha256);

// Removes the staged copy of MANIFEST_SHA256 and its record.
void drop_staged(StateDb& state, const std::string& manifest_sha256);

} // namespace ferry::applier
