#pragma once

// Asking a node what its cluster needs to know before a rolling upgrade: its role and whether
// it is healthy, by the installed release's own signed commands (procedure.cluster.role, the
// health checks), run once each on the node.

#include <filesystem>
#include <string>

namespace ferry::applier {

struct NodeProbe {
    std::string role;  // what cluster.role printed ("leader", "follower"), "" without the command
    bool healthy = false;
    bool synced = true;  // what cluster.synced says (true without the command)
    std::string detail; // why not healthy, or what the role command said that was not a role
};

// Runs the installed release's cluster.role, cluster.synced and health checks (each once, with
// its timeout) below ROOT, with the applier's environment; nothing installed: not healthy.
[[nodiscard]] NodeProbe probe_node(const std::filesystem::path& root, const std::filesystem::path& state_dir);

// Runs the installed release's cluster.step_down below ROOT; throws a failed Error naming what
// it said when it fails, a usage Error when the release has no such command.
void step_down(const std::filesystem::path& root, const std::filesystem::path& state_dir);

} // namespace ferry::applier
