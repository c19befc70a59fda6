#pragma once

// Names that are defaults, defined once: where a node keeps its own trust store and its state.

namespace ferry {

// The node's own trust store, which --trust defaults to.
inline constexpr char k_default_trust_store[] = "/etc/ferry/trust.yaml";

// The applier's state folder, which --state-dir defaults to.
inline constexpr char k_default_state_dir[] = "/var/lib/ferry";

} // namespace ferry
