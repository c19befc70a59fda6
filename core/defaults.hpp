#pragma once

// Names that are defaults, defined once: where a node keeps its own trust store, its state and
// its image configuration.

#include <filesystem>

namespace ferry {

// The node's own trust store, which --trust defaults to (below --root).
inline constexpr char k_default_trust_store[] = "/etc/ferry/trust.yaml";

// The applier's state folder, which --state-dir defaults to.
inline constexpr char k_default_state_dir[] = "/var/lib/ferry";

// The node's own trust store below the install root ROOT (--root).
[[nodiscard]] inline std::filesystem::path node_trust_store(const std::filesystem::path& root) {
    return root / std::filesystem::path(k_default_trust_store).relative_path();
}

// Where a node says where images go (below --root); without it they go to an OCI layout in the
// state folder (StateLayout::image_layout).
inline constexpr char k_image_config[] = "/etc/ferry/images.yaml";

} // namespace ferry
