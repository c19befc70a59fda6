#include "command.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace ferry::applier {

namespace {

std::string tail_of(const std::filesystem::path& log, std::size_t from) {
    std::string text;
    try {
        text = read_file(log, 64u << 20);
    } catch (const Error&) {
        return {};
    }
    text = text.substr(std::min(from, text.size()));
    if (text.size() > 1000) {
        text = "..." + text.substr(text.size() - 1000);
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

} // namespace

std::vector<std::string> expand(const std::vector<std::string>& argv, const std::map<std::string, std::string>& vars) {
    std::vector<std::string> out;
    for (std::string arg : argv) {
        for (const auto& [name, value] : vars) {
            const std::string key = "{" + name + "}";
            for (std::size_t pos = arg.find(key); pos != std::string::npos; pos = arg.find(key, pos + value.size())) {
                arg.replace(pos, key.size(), value);
            }
        }
        out.push_back(std::move(arg));
    }
    return out;
}

CommandResult run_command(const CommandSpec& spec) {
    if (spec.argv.empty()) {
        throw Error(ErrorKind::internal, "empty command");
    }
    std::error_code ec;
    std::filesystem::create_directories(spec.log.parent_path(), ec);
    const std::size_t log_start = std::filesystem::exists(spec.log) ? std::filesystem::file_size(spec.log) : 0;
    std::vector<char*> argv;
    for (const auto& a : spec.argv) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw_errno("starting " + spec.argv[0]);
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        const int log = ::open(spec.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (log < 0 || null < 0 || ::dup2(null, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0) {
            ::_exit(126);
        }
        for (const auto& [name, value] : spec.env) {
            ::setenv(name.c_str(), value.c_str(), 1);
        }
        ::execvp(argv[0], argv.data());
        const std::string message = std::string("cannot run ") + argv[0] + ": " + std::strerror(errno) + "\n";
        (void)!::write(2, message.data(), message.size());
        ::_exit(127);
    }
    CommandResult result;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + spec.timeout;
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            break;
        }
        if (r < 0 && errno != EINTR) {
            throw_errno("waiting for " + spec.argv[0]);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            result.timed_out = true;
            ::kill(-pid, SIGTERM);
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!result.timed_out && WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (!result.timed_out && WIFSIGNALED(status)) {
        result.exit_code = -WTERMSIG(status);
    }
    result.output_tail = tail_of(spec.log, log_start);
    return result;
}

std::string describe(const CommandResult& result, std::chrono::milliseconds timeout) {
    std::string s;
    if (result.timed_out) {
        s = "timed out after " + std::to_string(timeout.count() / 1000) + " s";
    } else if (result.exit_code < 0) {
        s = "killed by signal " + std::to_string(-result.exit_code);
    } else {
        s = "exit code " + std::to_string(result.exit_code);
    }
    if (!result.output_tail.empty()) {
        s += "; output: " + result.output_tail;
    }
    return s;
}

} // namespace ferry::applier
