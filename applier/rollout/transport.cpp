#include "transport.hpp"

#include "core/error.hpp"
#include "core/json.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ferry::rollout {

namespace {

void close_fd(int& fd) {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

} // namespace

std::string last_line(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    const auto nl = text.find_last_of("\r\n");
    return printable(nl == std::string_view::npos ? text : text.substr(nl + 1));
}

NodeCall error_call(int exit_code, const std::string& kind, const std::string& message, const std::string& err) {
    JsonWriter j;
    j.begin_object().field("result", "error").key("error").begin_object().field("kind", kind)
        .field("message", message).field("hint", "").field("exit_code", exit_code).end_object().end_object();
    return {exit_code, j.str(), err};
}

std::filesystem::path own_executable() {
    std::error_code ec;
    const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) {
        throw Error(ErrorKind::io, "cannot find the running ferry-applier: " + ec.message());
    }
    return path;
}

NodeCall run_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& vars,
                     std::chrono::seconds timeout, const ProcessInput& input) {
    std::vector<std::string> args = argv;
    std::vector<char*> cargv;
    for (auto& a : args) {
        cargv.push_back(a.data());
    }
    cargv.push_back(nullptr);
    // The environment, with VARS, made before fork: the coordinator calls nodes from several
    // threads, and a child of a threaded process should only exec.
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const std::string name(entry.substr(0, entry.find('=')));
        if (vars.count(name) == 0) {
            env.emplace_back(entry);
        }
    }
    for (const auto& [name, value] : vars) {
        env.push_back(name + "=" + value);
    }
    std::vector<char*> cenv;
    for (auto& e : env) {
        cenv.push_back(e.data());
    }
    cenv.push_back(nullptr);
    int in[2] = {-1, -1};
    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
        (input.fd >= 0 && ::pipe2(in, O_CLOEXEC) != 0)) {
        throw_errno("starting " + argv.front());
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw_errno("starting " + argv.front());
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        const int stdin_fd = in[0] >= 0 ? in[0] : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (stdin_fd < 0 || ::dup2(stdin_fd, 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0) {
            ::_exit(126);
        }
        ::execve(cargv[0], cargv.data(), cenv.data());
        const std::string message = std::string("cannot run ") + cargv[0] + ": " + std::strerror(errno) + "\n";
        (void)!::write(2, message.data(), message.size());
        ::_exit(127);
    }
    close_fd(out[1]);
    close_fd(err[1]);
    close_fd(in[0]);
    if (in[1] >= 0) {
        ::fcntl(in[1], F_SETFL, ::fcntl(in[1], F_GETFL) | O_NONBLOCK);
        (void)::fcntl(in[1], F_SETPIPE_SZ, 1 << 20); // fewer wake-ups per MiB (a bigger pipe may be refused)
    }
    // What is pumped from INPUT into the child's stdin.
    std::vector<char> pending;
    std::size_t pending_at = 0;
    std::uint64_t offset = input.offset;
    std::uint64_t sent = 0;
    NodeCall call;
    const auto started = std::chrono::steady_clock::now();
    const auto deadline = started + timeout;
    bool timed_out = false;
    while (out[0] >= 0 || err[0] >= 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            ::kill(-pid, SIGKILL);
            break;
        }
        if (in[1] >= 0 && pending_at == pending.size()) {
            pending.resize(1 << 20);
            const ssize_t n = ::pread(input.fd, pending.data(), pending.size(), static_cast<off_t>(offset));
            if (n <= 0) {
                close_fd(in[1]); // the end of the input: the child sees EOF
                pending.clear();
            } else {
                pending.resize(static_cast<std::size_t>(n));
                offset += static_cast<std::uint64_t>(n);
            }
            pending_at = 0;
        }
        // Ahead of RATE: the input waits (the child's output is still read meanwhile).
        long long wait = std::min<long long>(left.count(), 1000);
        bool ahead = false;
        if (input.rate > 0 && in[1] >= 0) {
            const auto due = started + std::chrono::milliseconds(sent * 1000 / input.rate);
            const auto now = std::chrono::steady_clock::now();
            if (due > now) {
                ahead = true;
                wait = std::min<long long>(wait, std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count() + 1);
            }
        }
        pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {ahead ? -1 : in[1], POLLOUT, 0}};
        if (::poll(fds, 3, static_cast<int>(wait)) < 0 && errno != EINTR) {
            break;
        }
        for (int i = 0; i < 2; ++i) {
            int& fd = i == 0 ? out[0] : err[0];
            if (fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
                continue;
            }
            char buf[65536];
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) {
                close_fd(fd);
            } else {
                (i == 0 ? call.out : call.err).append(buf, static_cast<std::size_t>(n));
            }
        }
        if (in[1] >= 0 && (fds[2].revents & (POLLERR | POLLHUP)) != 0) {
            close_fd(in[1]); // the child stopped reading
        } else if (in[1] >= 0 && (fds[2].revents & POLLOUT) != 0) {
            const ssize_t n = ::write(in[1], pending.data() + pending_at, pending.size() - pending_at);
            if (n > 0) {
                pending_at += static_cast<std::size_t>(n);
                sent += static_cast<std::uint64_t>(n);
                if (input.progress) {
                    input.progress(sent);
                }
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                close_fd(in[1]);
            }
        }
    }
    close_fd(in[1]);
    close_fd(out[0]);
    close_fd(err[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (timed_out) {
        call.err += "timed out after " + std::to_string(timeout.count()) + " s";
    } else if (WIFEXITED(status)) {
        call.exit_code = WEXITSTATUS(status);
    }
    return call;
}

NodeCall Transport::stage(const schema::InventoryNode& node, const std::filesystem::path& bundle,
                           const std::string& /*manifest_sha256*/, const std::vector<std::string>& node_args,
                           const std::function<void(const std::string&)>& /*say*/) {
    std::vector<std::string> args = {"stage", bundle.string(), "--json", "-q"};
    args.insert(args.end(), node_args.begin(), node_args.end());
    return call(node, args, k_stage_timeout);
}

std::string Transport::bundle_on_node(const schema::InventoryNode& /*node*/, const std::filesystem::path& bundle,
                                      const std::string& /*manifest_sha256*/) {
    return bundle.string();
}

bool Transport::has_bundle(const schema::InventoryNode& /*node*/, const std::filesystem::path& /*bundle*/,
                           const std::string& /*manifest_sha256*/) {
    return true;
}

NodeCall LocalTransport::call(const schema::InventoryNode& node, const std::vector<std::string>& args,
                              std::chrono::seconds timeout) {
    std::vector<std::string> argv = {m_applier.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--root", node.root.string(), "--state-dir", node.state_dir.string()});
    return run_process(argv, node.vars, timeout);
}

} // namespace ferry::rollout
