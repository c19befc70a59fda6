#pragma once

// How the coordinator reaches a node: it runs that node's own `ferry-applier ... --json`
// commands, never the node's code in its own process.

#include "manifest-schema/inventory.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::rollout {

// What a node's command printed and how it ended.
struct NodeCall {
    int exit_code = -1; // -1: it could not be run, or was killed
    std::string out;    // standard output: the command's one JSON document
    std::string err;    // standard error: progress and the error message
};

class Transport {
public:
    virtual ~Transport() = default;
    // Runs `ferry-applier ARGS` on NODE, with its root, state folder and variables, within TIMEOUT.
    [[nodiscard]] virtual NodeCall call(const schema::InventoryNode& node, const std::vector<std::string>& args,
                                        std::chrono::seconds timeout) = 0;
    // Stages BUNDLE (whose manifest's SHA-256 is MANIFEST_SHA256) on NODE with its own `stage`,
    // given NODE_ARGS: here, the bundle as this machine reads it; other transports first copy it
    // there. SAY receives progress lines.
    [[nodiscard]] virtual NodeCall stage(const schema::InventoryNode& node, const std::filesystem::path& bundle,
                                         const std::string& manifest_sha256, const std::vector<std::string>& node_args,
                                         const std::function<void(const std::string&)>& say);
    // The path NODE's own commands read BUNDLE by: BUNDLE itself here; its staged copy on the
    // node for a transport that copies it.
    [[nodiscard]] virtual std::string bundle_on_node(const schema::InventoryNode& node,
                                                     const std::filesystem::path& bundle,
                                                     const std::string& manifest_sha256);
    // Whether that path holds the bundle now (before staging, a copying transport's does not).
    [[nodiscard]] virtual bool has_bundle(const schema::InventoryNode& node, const std::filesystem::path& bundle,
                                          const std::string& manifest_sha256);
};

// How long a node may take to stage a bundle.
inline constexpr std::chrono::seconds k_stage_timeout{3600};

// Nodes on this machine: the applier APPLIER run with --root and --state-dir, the node's
// variables added to its environment.
class LocalTransport : public Transport {
public:
    explicit LocalTransport(std::filesystem::path applier) : m_applier(std::move(applier)) {}
    [[nodiscard]] NodeCall call(const schema::InventoryNode& node, const std::vector<std::string>& args,
                                std::chrono::seconds timeout) override;

private:
    std::filesystem::path m_applier;
};

// What run_process feeds the child's standard input: FD from OFFSET to its end (none when FD
// is -1), at most RATE bytes a second (0: as fast as it goes), calling PROGRESS with the bytes
// sent so far.
struct ProcessInput {
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t rate = 0;
    std::function<void(std::uint64_t)> progress;
};

// Runs ARGV (argv[0] a path) in its own process group with VARS added to the environment,
// killing the group after TIMEOUT; stdin from INPUT or /dev/null. exit_code -1 when it was
// killed or timed out.
[[nodiscard]] NodeCall run_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& vars,
                                   std::chrono::seconds timeout, const ProcessInput& input = {});

// The last line of TEXT (lines end at \n or \r), printable: what a command's stderr ended with.
[[nodiscard]] std::string last_line(std::string_view text);

// A call that ended with the JSON error document a node's applier prints (kind, message, an
// empty hint, EXIT_CODE) and ERR on stderr: for failures the node could not report itself.
[[nodiscard]] NodeCall error_call(int exit_code, const std::string& kind, const std::string& message,
                                  const std::string& err);

// The running program's own executable (to run it again for local nodes).
[[nodiscard]] std::filesystem::path own_executable();

} // namespace ferry::rollout
