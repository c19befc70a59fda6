#pragma once

// Nodes on other machines, reached with the system's OpenSSH client and nothing else: no
// user configuration (-F none), no agent, only the inventory's identity and known_hosts
// (StrictHostKeyChecking: no host is trusted on first use), one multiplexed connection per
// node for the whole rollout. The node's own ferry-applier runs there; its JSON comes back.
// ssh's own failures (an unknown or changed host key, a refused key, no route) come back as
// the same JSON error document a node's applier prints, naming the node and the fix.

#include "applier/rollout/transport.hpp"

#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace ferry::rollout {

class SshTransport : public Transport {
public:
    // VERSION: the coordinator's own; a node's applier must be at least as new.
    explicit SshTransport(std::string version);
    ~SshTransport() override;
    SshTransport(const SshTransport&) = delete;
    SshTransport& operator=(const SshTransport&) = delete;

    [[nodiscard]] NodeCall call(const schema::InventoryNode& node, const std::vector<std::string>& args,
                                std::chrono::seconds timeout) override;
    // Copies BUNDLE into the node's inbox (STATE/inbox/MANIFEST-SHA256.ferry), from where an
    // earlier copy stopped, then stages it there and removes the inbox copy; a node that has
    // it staged already is not sent it again.
    [[nodiscard]] NodeCall stage(const schema::InventoryNode& node, const std::filesystem::path& bundle,
                                 const std::string& manifest_sha256, const std::vector<std::string>& node_args,
                                 const std::function<void(const std::string&)>& say) override;
    // The staged copy on the node.
    [[nodiscard]] std::string bundle_on_node(const schema::InventoryNode& node, const std::filesystem::path& bundle,
                                             const std::string& manifest_sha256) override;
    [[nodiscard]] bool has_bundle(const schema::InventoryNode& node, const std::filesystem::path& bundle,
                                  const std::string& manifest_sha256) override;

private:
    // ssh's command line for NODE up to the host (then the remote command).
    [[nodiscard]] std::vector<std::string> ssh_argv(const schema::InventoryNode& node) const;
    // Runs the shell command line REMOTE on NODE; ssh's own failures turned into error documents.
    // RUNNING names the command for an error saying the connection was lost while it ran.
    [[nodiscard]] NodeCall remote(const schema::InventoryNode& node, const std::string& remote,
                                  std::chrono::seconds timeout, const ProcessInput& input = {},
                                  const std::string& running = {});
    // Whether NODE answered before in this run (its applier was checked).
    [[nodiscard]] bool reached(const schema::InventoryNode& node);
    [[nodiscard]] NodeCall ssh_failure(const schema::InventoryNode& node, const NodeCall& call);
    // Checks once per node that its applier is there and new enough; an error document if not.
    [[nodiscard]] std::optional<NodeCall> check_applier(const schema::InventoryNode& node);

    std::string m_version;
    std::filesystem::path m_control_dir; // the multiplexed connections' sockets
    std::mutex m_mutex;
    std::set<std::string> m_checked;     // nodes whose applier was checked
    std::vector<schema::InventoryNode> m_connected;
};

// Local nodes through LocalTransport, ssh nodes through one SshTransport made on first use.
class SiteTransport : public Transport {
public:
    SiteTransport(std::filesystem::path applier, std::string version)
        : m_local(std::move(applier)), m_version(std::move(version)) {}

    [[nodiscard]] NodeCall call(const schema::InventoryNode& node, const std::vector<std::string>& args,
                                std::chrono::seconds timeout) override {
        return of(node).call(node, args, timeout);
    }
    [[nodiscard]] NodeCall stage(const schema::InventoryNode& node, const std::filesystem::path& bundle,
                                 const std::string& manifest_sha256, const std::vector<std::string>& node_args,
                                 const std::function<void(const std::string&)>& say) override {
        return of(node).stage(node, bundle, manifest_sha256, node_args, say);
    }
    [[nodiscard]] std::string bundle_on_node(const schema::InventoryNode& node, const std::filesystem::path& bundle,
                                             const std::string& manifest_sha256) override {
        return of(node).bundle_on_node(node, bundle, manifest_sha256);
    }
    [[nodiscard]] bool has_bundle(const schema::InventoryNode& node, const std::filesystem::path& bundle,
                                  const std::string& manifest_sha256) override {
        return of(node).has_bundle(node, bundle, manifest_sha256);
    }

private:
    Transport& of(const schema::InventoryNode& node);

    LocalTransport m_local;
    std::string m_version;
    std::mutex m_mutex;
    std::unique_ptr<SshTransport> m_ssh;
};

} // namespace ferry::rollout
