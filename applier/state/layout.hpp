#pragma once

// The layout of a node's state folder: every path in it named once, for the state database,
// the runs, the staged bundles, the receipts and the commands that read them.

#include <cstdint>
#include <filesystem>
#include <string>

namespace ferry::applier {

// Where things live in a state folder, named once.
class StateLayout {
public:
    explicit StateLayout(std::filesystem::path dir) : m_dir(std::move(dir)) {}
    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }
    [[nodiscard]] std::filesystem::path database() const { return m_dir / "state.db"; }
    [[nodiscard]] std::filesystem::path run(std::int64_t id) const { return m_dir / "runs" / std::to_string(id); }
    [[nodiscard]] std::filesystem::path staging(std::int64_t id) const { return run(id) / "staging"; }
    [[nodiscard]] std::filesystem::path backup(std::int64_t id) const { return run(id) / "backup"; }
    [[nodiscard]] std::filesystem::path commands_log(std::int64_t id) const { return run(id) / "commands.log"; }
    [[nodiscard]] std::filesystem::path staged(const std::string& manifest_sha256) const {
        return m_dir / "staged" / manifest_sha256;
    }
    [[nodiscard]] std::filesystem::path staged_bundle(const std::string& manifest_sha256) const {
        return staged(manifest_sha256) / "bundle.ferry";
    }
    // The parts of a split bundle staged so far, one line each.
    [[nodiscard]] std::filesystem::path staged_parts(const std::string& manifest_sha256) const {
        return staged(manifest_sha256) / "parts";
    }
    [[nodiscard]] std::filesystem::path images() const { return m_dir / "images"; }
    // The OCI layout a node with no image configuration pushes images to.
    [[nodiscard]] std::filesystem::path image_layout() const { return m_dir / "image-layout"; }
    [[nodiscard]] std::filesystem::path kept() const { return m_dir / "kept"; }
    // The node's own signing key (secret, mode 0600) and its minisign public key.
    [[nodiscard]] std::filesystem::path node_key() const { return m_dir / "node.key"; }
    [[nodiscard]] std::filesystem::path node_public_key() const { return m_dir / "node.pub"; }
    // The signed receipts, one JSON file and its .minisig per command that changed the node.
    [[nodiscard]] std::filesystem::path receipts() const { return m_dir / "receipts"; }
    [[nodiscard]] std::filesystem::path kept_before_rollback(std::int64_t id) const {
        return kept() / ("before-rollback-of-run-" + std::to_string(id));
    }

private:
    std::filesystem::path m_dir;
};

} // namespace ferry::applier
