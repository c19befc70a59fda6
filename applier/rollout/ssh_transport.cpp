#include "ssh_transport.hpp"

#include "applier/rollout/cluster_plan.hpp"
#include "applier/state/state.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/handles.hpp"
#include "core/sha256.hpp"
#include "core/text.hpp"
#include "manifest-schema/version.hpp"

#include <algorithm>
#include <cstdlib>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

namespace ferry::rollout {

namespace {

constexpr const char* k_ssh = "/usr/bin/ssh";
constexpr std::chrono::seconds k_quick{60};      // a status, a version, a stat
constexpr std::chrono::seconds k_copy{6 * 3600}; // a bundle's copy

std::string endpoint(const schema::InventoryNode& node) {
    return node.host + ":" + std::to_string(node.port);
}

std::string quoted_option(const std::string& name, const std::filesystem::path& path) {
    return name + "=\"" + path.string() + "\"";
}

std::string mib(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return text;
}

// FERRY_TEST_COPY_RATE (bytes a second): the tests' slow link, to drop a connection mid-copy.
std::uint64_t copy_rate() {
    const char* rate = std::getenv("FERRY_TEST_COPY_RATE");
    return rate == nullptr ? 0 : std::strtoull(rate, nullptr, 10);
}

} // namespace

SshTransport::SshTransport(std::string version) : m_version(std::move(version)) {
    // Short, private and this run's own: the sockets of the multiplexed connections.
    std::string tmpl = "/tmp/ferry-ssh-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
        throw_errno("creating a folder for ssh's connections in /tmp");
    }
    m_control_dir = tmpl;
}

SshTransport::~SshTransport() {
    for (const auto& node : m_connected) {
        std::vector<std::string> argv = ssh_argv(node);
        argv.insert(argv.end() - 2, {"-O", "exit"});
        try {
            (void)run_process(argv, {}, std::chrono::seconds(10));
        } catch (const Error&) {
            // The master ends with this process anyway.
        }
    }
    std::error_code ec;
    std::filesystem::remove_all(m_control_dir, ec);
}

std::vector<std::string> SshTransport::ssh_argv(const schema::InventoryNode& node) const {
    std::vector<std::string> argv = {k_ssh,
                                     "-F", "none", // no user or system configuration
                                     "-o", "BatchMode=yes",
                                     "-o", "StrictHostKeyChecking=yes",
                                     "-o", quoted_option("UserKnownHostsFile", node.known_hosts),
                                     "-o", "GlobalKnownHostsFile=/dev/null",
                                     "-o", "UpdateHostKeys=no",
                                     "-o", "IdentitiesOnly=yes",
                                     "-o", "IdentityAgent=none",
                                     "-o", quoted_option("IdentityFile", node.identity),
                                     "-o", "ConnectTimeout=15",
                                     "-o", "ServerAliveInterval=10",
                                     "-o", "ServerAliveCountMax=3",
                                     "-o", "ControlMaster=auto",
                                     // One connection per node, even for nodes that share a
                                     // host, port and user (several instances on one machine).
                                     "-o", quoted_option("ControlPath", m_control_dir / to_hex(sha256(node.name)).substr(0, 16)),
                                     "-o", "ControlPersist=yes",
                                     "-o", "LogLevel=ERROR",
                                     "-p", std::to_string(node.port)};
    if (!node.user.empty()) {
        argv.insert(argv.end(), {"-l", node.user});
    }
    argv.insert(argv.end(), {"--", node.host});
    return argv;
}

NodeCall SshTransport::ssh_failure(const schema::InventoryNode& node, const NodeCall& call) {
    const std::string& err = call.err;
    const std::string who = "node " + node.name + " (" + endpoint(node) + ")";
    if (err.find("REMOTE HOST IDENTIFICATION HAS CHANGED") != std::string::npos) {
        return error_call(3, "verification",
                              who + ": its host key is not the one " + node.known_hosts.string() +
                                  " holds: refused (the node was reinstalled, or someone is in between); "
                                  "check the key at the node's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) "
                                  "before you change " + node.known_hosts.string(),
                              err);
    }
    if (err.find("Host key verification failed") != std::string::npos) {
        // No trust on first use: say what the host presents, and how to trust it once checked.
        std::string fingerprint = "its key could not be read";
        const std::string scan = (m_control_dir / ("scan-" + node.name)).string();
        const NodeCall keys = run_process({"/usr/bin/ssh-keyscan", "-T", "10", "-p", std::to_string(node.port), node.host},
                                          {}, std::chrono::seconds(20));
        if (keys.exit_code == 0 && !keys.out.empty()) {
            write_file_atomic(scan, keys.out, false);
            const NodeCall prints = run_process({"/usr/bin/ssh-keygen", "-l", "-f", scan}, {}, std::chrono::seconds(10));
            if (prints.exit_code == 0) {
                fingerprint = "it presents " + printable(prints.out.substr(0, prints.out.find_last_not_of('\n') + 1));
                for (auto& c : fingerprint) {
                    c = c == '\n' ? ';' : c;
                }
            }
        }
        return error_call(3, "verification",
                              who + ": its host key is not in " + node.known_hosts.string() + " (" + fingerprint +
                                  "); nothing is trusted on first use: compare that fingerprint with the node's own "
                                  "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub at its console), then add it: "
                                  "ssh-keyscan -p " + std::to_string(node.port) + " " + node.host + " >> " +
                                  node.known_hosts.string(),
                              err);
    }
    if (err.find("Permission denied") != std::string::npos) {
        return error_call(4, "policy",
                              who + ": the node refused the key " + node.identity.string() +
                                  (node.user.empty() ? std::string() : " for user " + node.user) +
                                  ": add its public key to that user's authorized_keys on the node",
                              err);
    }
    return error_call(1, "io", who + ": cannot reach it over ssh: " + last_line(err), err);
}

bool SshTransport::reached(const schema::InventoryNode& node) {
    const std::lock_guard lock(m_mutex);
    return m_checked.count(node.name) != 0;
}

NodeCall SshTransport::remote(const schema::InventoryNode& node, const std::string& command,
                              std::chrono::seconds timeout, const ProcessInput& input, const std::string& running) {
    std::vector<std::string> argv = ssh_argv(node);
    argv.push_back(command);
    NodeCall call = run_process(argv, {}, timeout, input);
    if (call.exit_code == 255) {
        NodeCall failure = ssh_failure(node, call);
        if (failure.exit_code == 1 && !running.empty() && reached(node)) {
            // Reached before in this run (its applier was checked): the connection went while
            // the command ran.
            return error_call(1, "io",
                              "node " + node.name + " (" + endpoint(node) + "): the connection was lost while `" +
                                  running + "` ran there (" + last_line(call.err) + "); it goes on by itself on the "
                                  "node: run the same command again, which waits for it to end and carries on from "
                                  "the node's own journal",
                              call.err);
        }
        return failure;
    }
    {
        const std::lock_guard lock(m_mutex);
        if (call.exit_code >= 0 && std::none_of(m_connected.begin(), m_connected.end(), [&](const auto& n) {
                return n.name == node.name;
            })) {
            m_connected.push_back(node);
        }
    }
    return call;
}

std::optional<NodeCall> SshTransport::check_applier(const schema::InventoryNode& node) {
    {
        const std::lock_guard lock(m_mutex);
        if (m_checked.count(node.name) != 0) {
            return std::nullopt;
        }
    }
    const NodeCall v = remote(node, shell_quoted({node.applier, "--version"}), k_quick);
    if (v.exit_code == 255 || error_message(v)) {
        return v;
    }
    const std::string who = "node " + node.name + " (" + endpoint(node) + ")";
    if (v.exit_code == 127) {
        return error_call(1, "input",
                              who + ": there is no " + node.applier + " there: install the ferry-applier package "
                                  "(or set the node's applier: in the inventory)",
                              v.err);
    }
    const std::string text = last_line(v.out);
    const std::string prefix = "ferry-applier ";
    const auto theirs = text.rfind(prefix, 0) == 0 ? schema::parse_version(text.substr(prefix.size())) : std::nullopt;
    const auto ours = schema::parse_version(m_version);
    if (v.exit_code != 0 || !theirs) {
        return error_call(1, "input", who + ": " + node.applier + " --version said \"" + text +
                                              "\", not a ferry-applier's version", v.err);
    }
    if (ours && theirs->compare(*ours) < 0) {
        return error_call(4, "policy",
                              who + " runs ferry-applier " + theirs->str() + "; this coordinator needs " + ours->str() +
                                  " or newer there: install that first (nothing was changed)",
                              v.err);
    }
    const std::lock_guard lock(m_mutex);
    m_checked.insert(node.name);
    return std::nullopt;
}

NodeCall SshTransport::call(const schema::InventoryNode& node, const std::vector<std::string>& args,
                            std::chrono::seconds timeout) {
    if (auto problem = check_applier(node)) {
        return *problem;
    }
    std::vector<std::string> argv;
    if (!node.vars.empty()) {
        argv.emplace_back("env");
        for (const auto& [name, value] : node.vars) {
            argv.push_back(name + "=" + value);
        }
    }
    argv.push_back(node.applier);
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--root", node.root.string(), "--state-dir", node.state_dir.string()});
    // The applier writes into files on the node, not into the session: a connection that drops
    // while it runs (an apply, a stage) does not stop it there, nor break its output. It goes
    // on to its end and releases the state folder's lock; the next coordinator waits on that
    // lock (status: in_progress) and reads how it ended from the node's own journal.
    const std::string command =
        "d=$(mktemp -d) || exit 1; " + shell_quoted(argv) +
        " </dev/null >\"$d/out\" 2>\"$d/err\"; rc=$?; trap '' PIPE; cat \"$d/err\" >&2; cat \"$d/out\"; "
        "rm -rf \"$d\"; exit $rc";
    return remote(node, command, timeout, {}, args.empty() ? std::string("ferry-applier") : "ferry-applier " + args.front());
}

std::string SshTransport::bundle_on_node(const schema::InventoryNode& node, const std::filesystem::path& /*bundle*/,
                                         const std::string& manifest_sha256) {
    return applier::StateLayout(node.state_dir).staged_bundle(manifest_sha256).string();
}

bool SshTransport::has_bundle(const schema::InventoryNode& node, const std::filesystem::path& bundle,
                              const std::string& manifest_sha256) {
    return remote(node, shell_quoted({"test", "-f", bundle_on_node(node, bundle, manifest_sha256)}), k_quick)
               .exit_code == 0;
}

NodeCall SshTransport::stage(const schema::InventoryNode& node, const std::filesystem::path& bundle,
                             const std::string& manifest_sha256, const std::vector<std::string>& node_args,
                             const std::function<void(const std::string&)>& say) {
    // Staged there already (a verified copy): nothing to send.
    const NodeCall status = call(node, {"status", "--json"}, k_quick);
    if (error_message(status)) {
        return status;
    }
    try {
        const auto j = nlohmann::json::parse(status.out);
        for (const auto& s : j.value("staged", nlohmann::json::array())) {
            if (s.value("manifest_sha256", "") == manifest_sha256 && s.value("state", "") == "verified") {
                return {0, "{\"result\":\"already_staged\"}\n", ""};
            }
        }
    } catch (const nlohmann::json::exception&) {
        // Not a status document: the stage below will say what is wrong.
    }

    // The copy into the inbox, from where an earlier one stopped.
    const std::string inbox = (node.state_dir / "inbox").string();
    const std::string file = inbox + "/" + manifest_sha256 + ".ferry";
    const Fd fd(::open(bundle.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
        throw_errno(bundle.string());
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    const auto arrived = [&]() -> std::optional<std::uint64_t> {
        const NodeCall c = remote(node, "mkdir -p " + shell_quoted({inbox}) + " && { stat -c %s " + shell_quoted({file}) +
                                            " 2>/dev/null || echo 0; }",
                                  k_quick);
        if (c.exit_code != 0) {
            return std::nullopt;
        }
        try {
            return std::stoull(c.out);
        } catch (const std::exception&) {
            return std::nullopt;
        }
    };
    auto offset = arrived();
    if (!offset) {
        return error_call(1, "io", "node " + node.name + ": cannot read its inbox " + inbox, "");
    }
    if (*offset > size) {
        (void)remote(node, shell_quoted({"rm", "-f", file}), k_quick);
        offset = 0;
    }
    if (*offset < size) {
        const auto started = std::chrono::steady_clock::now();
        say("  " + node.name + ": copying " + mib(size - *offset) + (*offset > 0 ? " (resumed after " + mib(*offset) + ")" : ""));
        auto last_report = started;
        const std::uint64_t from = *offset;
        ProcessInput input{fd.get(), from, copy_rate(), [&](std::uint64_t sent) {
                               const auto now = std::chrono::steady_clock::now();
                               if (now - last_report >= std::chrono::seconds(5)) {
                                   last_report = now;
                                   say("  " + node.name + ": " + mib(from + sent) + " of " + mib(size));
                               }
                           }};
        const NodeCall copy = remote(node, "cat >> " + shell_quoted({file}), k_copy, input);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (copy.exit_code != 0) {
            if (copy.exit_code == 3 || copy.exit_code == 4) {
                return copy; // ssh refused the node (its host key, our key): nothing was copied
            }
            // A dropped connection, a full disk, Ctrl-C: what arrived stays in the inbox.
            const auto there = arrived();
            return error_call(1, "io",
                              "node " + node.name + ": the copy to " + file + " stopped" +
                                  (there ? " after " + std::to_string(*there) + " of " + std::to_string(size) + " bytes"
                                         : std::string()) +
                                  " (" + last_line(copy.err) + "); run the same command again to go on from there",
                              copy.err);
        }
        const auto now_there = arrived();
        if (!now_there || *now_there != size) {
            return error_call(1, "io",
                                  "node " + node.name + ": the copy to " + file + " holds " +
                                      (now_there ? std::to_string(*now_there) : std::string("?")) + " of " +
                                      std::to_string(size) + " bytes; run the same command again to go on",
                                  copy.err);
        }
        char rate[64];
        std::snprintf(rate, sizeof rate, "%.1f s, %.1f MiB/s", seconds,
                      seconds > 0 ? static_cast<double>(size - from) / (1024.0 * 1024.0) / seconds : 0.0);
        say("  " + node.name + ": copied " + mib(size - from) + " in " + rate);
    }

    // Staged from the inbox: every chunk checked as it is copied into the state folder.
    std::vector<std::string> args = {"stage", file, "--json", "-q"};
    args.insert(args.end(), node_args.begin(), node_args.end());
    const NodeCall staged = call(node, args, k_stage_timeout);
    if (staged.exit_code == 0 || staged.exit_code == 3) {
        // Staged, or the inbox copy is damaged: either way it goes (a new copy next time).
        (void)remote(node, shell_quoted({"rm", "-f", file}), k_quick);
    }
    return staged;
}

Transport& SiteTransport::of(const schema::InventoryNode& node) {
    if (node.transport == schema::Transport::local) {
        return m_local;
    }
    const std::lock_guard lock(m_mutex);
    if (!m_ssh) {
        m_ssh = std::make_unique<SshTransport>(m_version);
    }
    return *m_ssh;
}

} // namespace ferry::rollout
