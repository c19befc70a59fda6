#include "transport.hpp"

#include "core/error.hpp"

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

std::filesystem::path own_executable() {
    std::error_code ec;
    const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) {
        throw Error(ErrorKind::io, "cannot find the running ferry-applier: " + ec.message());
    }
    return path;
}

NodeCall LocalTransport::call(const schema::InventoryNode& node, const std::vector<std::string>& args,
                              std::chrono::seconds timeout) {
    std::vector<std::string> argv = {m_applier.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const auto& [flag, value] : {std::pair{"--root", node.root}, std::pair{"--state-dir", node.state_dir}}) {
        argv.emplace_back(flag);
        argv.push_back(value.string());
    }
    std::vector<char*> cargv;
    for (auto& a : argv) {
        cargv.push_back(a.data());
    }
    cargv.push_back(nullptr);
    // The environment, with the node's variables, made before fork: the coordinator calls nodes
    // from several threads, and a child of a threaded process should only exec.
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const std::string name(entry.substr(0, entry.find('=')));
        if (node.vars.count(name) == 0) {
            env.emplace_back(entry);
        }
    }
    for (const auto& [name, value] : node.vars) {
        env.push_back(name + "=" + value);
    }
    std::vector<char*> cenv;
    for (auto& e : env) {
        cenv.push_back(e.data());
    }
    cenv.push_back(nullptr);
    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
        throw_errno("starting ferry-applier for node " + node.name);
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw_errno("starting ferry-applier for node " + node.name);
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0) {
            ::_exit(126);
        }
        ::execve(cargv[0], cargv.data(), cenv.data());
        const std::string message = std::string("cannot run ") + cargv[0] + ": " + std::strerror(errno) + "\n";
        (void)!::write(2, message.data(), message.size());
        ::_exit(127);
    }
    close_fd(out[1]);
    close_fd(err[1]);
    NodeCall call;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool timed_out = false;
    while (out[0] >= 0 || err[0] >= 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            ::kill(-pid, SIGKILL);
            break;
        }
        pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
        if (::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000))) < 0 && errno != EINTR) {
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
    }
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

} // namespace ferry::rollout
