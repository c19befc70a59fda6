#include "command.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/time.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace ferry::applier {

namespace {

std::size_t log_size(const std::filesystem::path& log) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(log, ec);
    return ec ? 0 : static_cast<std::size_t>(size);
}

// What the command wrote: the log's bytes from FROM to TO, its last 1000 at most.
std::string tail_of(const std::filesystem::path& log, std::size_t from, std::size_t to) {
    std::string text;
    try {
        text = read_file(log, 64u << 20);
    } catch (const Error&) {
        return {};
    }
    text = text.substr(0, std::min(to, text.size()));
    text = text.substr(std::min(from, text.size()));
    if (text.size() > 1000) {
        text = "..." + text.substr(text.size() - 1000);
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

void append_log(const std::filesystem::path& log, const std::string& line) {
    const Fd fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (fd.valid()) {
        (void)!::write(fd.get(), line.data(), line.size());
    }
}

} // namespace

std::string signal_name(int sig) {
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    default:
        return "signal " + std::to_string(sig);
    }
}

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
    std::vector<char*> argv;
    for (const auto& a : spec.argv) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    const std::string& label = spec.label;
    if (!label.empty()) {
        append_log(spec.log, "--- " + format_time(now()) + " " + label + ": " + shell_quoted(spec.argv) + "\n");
    }
    const std::size_t log_start = log_size(spec.log);
    const auto started = std::chrono::steady_clock::now();
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
        if (!spec.stdout_to.empty()) {
            const int out = ::open(spec.stdout_to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (out < 0 || ::dup2(out, 1) < 0) {
                ::_exit(126);
            }
        }
        for (const auto& [name, value] : spec.env) {
            ::setenv(name.c_str(), value.c_str(), 1);
        }
        ::execvp(argv[0], argv.data());
        const std::string message = std::string("cannot run ") + argv[0] + ": " + std::strerror(errno) + "\n";
        (void)!::write(2, message.data(), message.size());
        ::_exit(127);
    }
    // The child made its own group; make sure of it here too, before the handler may need it.
    ::setpgid(pid, pid);
    CommandResult result;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + spec.timeout;
    const ChildGroup registered(pid);
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r < 0 && errno != EINTR) {
            throw_errno("waiting for " + spec.argv[0]);
        }
        if (interrupted_by() != 0) {
            // The handler sent SIGTERM to the group; whatever is left of it gets SIGKILL.
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            ::kill(-pid, SIGKILL);
            if (r != pid) {
                ::waitpid(pid, &status, 0);
            }
            const std::string what = label.empty() ? spec.argv[0] : label;
            append_log(spec.log, "--- " + format_time(now()) + " " + what + ": ended by " +
                                     signal_name(interrupted_by()) + " sent to the applier\n");
            throw Error(ErrorKind::interrupted, "interrupted by " + signal_name(interrupted_by()) + " during the " + what);
        }
        if (r == pid) {
            break;
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
    const std::size_t log_end = log_size(spec.log);
    if (!result.timed_out && WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (!result.timed_out && WIFSIGNALED(status)) {
        result.exit_code = -WTERMSIG(status);
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    if (!label.empty()) {
        append_log(spec.log, "--- " + format_time(now()) + " " + label + ": " + describe(result, spec.timeout) +
                                 ", after " + std::to_string(took.count()) + " ms\n");
    }
    result.output_tail = tail_of(spec.log, log_start, log_end);
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
