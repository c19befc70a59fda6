// ferry_fuzz_regress: replays saved inputs through a fuzz target without libFuzzer, so the seed
// corpora and the saved crashers are a regression suite in the normal build.
//
// Usage: ferry_fuzz_regress TARGET PATH...
// Each PATH is an input file or a folder whose files (except dot files and README.md) are all
// run. Each input runs in a child process, so a crash fails that input only. Prints PASS or
// FAIL per input, ends with "N passed, M failed" and exits non-zero if any failed.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

int ferry_fuzz_spec(const std::uint8_t* data, std::size_t size);
int ferry_fuzz_manifest(const std::uint8_t* data, std::size_t size);
int ferry_fuzz_trust(const std::uint8_t* data, std::size_t size);
int ferry_fuzz_parts_list(const std::uint8_t* data, std::size_t size);
int ferry_fuzz_signature(const std::uint8_t* data, std::size_t size);
int ferry_fuzz_bundle(const std::uint8_t* data, std::size_t size);
int ferry_fuzz_payload(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

using Entry = int (*)(const std::uint8_t*, std::size_t);

struct Target {
    std::string_view name;
    Entry entry;
};

constexpr Target k_targets[] = {
    {"spec", ferry_fuzz_spec},           {"manifest", ferry_fuzz_manifest},
    {"trust", ferry_fuzz_trust}, {"parts_list", ferry_fuzz_parts_list},         {"signature", ferry_fuzz_signature},
    {"bundle", ferry_fuzz_bundle},       {"payload", ferry_fuzz_payload},
};

// Seconds one input may take before it counts as a hang.
constexpr unsigned k_timeout = 60;

bool is_input(const fs::path& path) {
    const std::string name = path.filename().string();
    return !name.starts_with('.') && name != "README.md";
}

// The input files named by ARGS, folders expanded in name order; false if one does not exist.
bool collect(const std::vector<std::string>& args, std::vector<fs::path>& out) {
    bool ok = true;
    for (const auto& arg : args) {
        std::error_code ec;
        if (fs::is_directory(arg, ec)) {
            std::vector<fs::path> files;
            for (const auto& entry : fs::directory_iterator(arg)) {
                if (entry.is_regular_file() && is_input(entry.path())) {
                    files.push_back(entry.path());
                }
            }
            std::sort(files.begin(), files.end());
            out.insert(out.end(), files.begin(), files.end());
        } else if (fs::is_regular_file(arg, ec)) {
            out.emplace_back(arg);
        } else {
            std::fprintf(stderr, "ferry_fuzz_regress: error: %s: no such file or folder\n", arg.c_str());
            ok = false;
        }
    }
    return ok;
}

// Runs ENTRY on the content of PATH in a child process; true if it returned normally.
bool run_one(Entry entry, const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.eof() && in.fail()) {
        std::printf("FAIL %s: cannot read it\n", path.c_str());
        return false;
    }
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("fork");
        return false;
    }
    if (pid == 0) {
        ::alarm(k_timeout);
        entry(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        std::exit(0);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) {
        std::perror("waitpid");
        return false;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        std::printf("PASS %s\n", path.c_str());
        return true;
    }
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        std::printf("FAIL %s: %s\n", path.c_str(),
                    sig == SIGALRM ? "hang (timed out)" : ::strsignal(sig));
    } else {
        std::printf("FAIL %s: exit status %d\n", path.c_str(), WEXITSTATUS(status));
    }
    return false;
}

// A scratch TMPDIR for the children, removed at the end: a crashing input leaves nothing behind.
struct ScratchTmp {
    fs::path path;
    ScratchTmp() {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                              "/ferry-fuzz-regress-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("mkdtemp");
            std::exit(2);
        }
        path = pattern;
        ::setenv("TMPDIR", path.c_str(), 1);
    }
    ~ScratchTmp() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    ScratchTmp(const ScratchTmp&) = delete;
    ScratchTmp& operator=(const ScratchTmp&) = delete;
};

} // namespace

int main(int argc, char** argv) {
    const auto usage = [] {
        std::fprintf(stderr, "usage: ferry_fuzz_regress TARGET PATH...\ntargets:");
        for (const auto& t : k_targets) {
            std::fprintf(stderr, " %.*s", static_cast<int>(t.name.size()), t.name.data());
        }
        std::fprintf(stderr, "\n");
        return 2;
    };
    if (argc < 3) {
        return usage();
    }
    const std::string_view name = argv[1];
    const auto target = std::find_if(std::begin(k_targets), std::end(k_targets),
                                      [&](const Target& t) { return t.name == name; });
    if (target == std::end(k_targets)) {
        std::fprintf(stderr, "ferry_fuzz_regress: error: unknown target \"%s\"\n", argv[1]);
        return usage();
    }
    std::vector<fs::path> inputs;
    const bool found = collect({argv + 2, argv + argc}, inputs);
    const ScratchTmp scratch;
    std::size_t passed = 0;
    std::size_t failed = found ? 0 : 1;
    for (const auto& path : inputs) {
        ++(run_one(target->entry, path) ? passed : failed);
    }
    std::printf("%zu passed, %zu failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
