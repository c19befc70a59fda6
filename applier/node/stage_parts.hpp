#pragma once

// Staging's internals shared by the whole-file and the split-bundle paths.

#include "applier/node/stage.hpp"
#include "keys/bundle.hpp"

#include <optional>
#include <vector>

namespace ferry::applier {

// What staging decided before copying anything.
struct StageDecision {
    StageOutcome outcome; // name, version, manifest hash, copy path, and the result when done
    bool done = false;    // already installed or already staged: nothing to copy
};

// Checks policy as apply would (a refusal is recorded and thrown) and whether anything is left to
// do.
[[nodiscard]] StageDecision decide_stage(Site& site, const StageOptions& options,
                                         const keys::BundleInfo& info);

// The part files GIVEN stands for, by number: every part of its bundle in its folder (GIVEN a
// part or a folder of parts); nullopt for a whole bundle.
[[nodiscard]] std::optional<std::vector<std::filesystem::path>>
split_media(const std::filesystem::path& given);

// Stages the parts FILES of one split bundle: the first part gives the manifest, or a bundle
// already being staged does; each part is placed by its chunks and copied chunk by chunk.
[[nodiscard]] StageOutcome stage_parts(const StageOptions& options,
                                       const std::vector<std::filesystem::path>& files);

} // namespace ferry::applier
