#include "console.hpp"

#include "error.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <unistd.h>

namespace ferry {

namespace {

std::atomic<Verbosity> g_verbosity{Verbosity::normal};

bool env_set(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0';
}

} // namespace

Verbosity verbosity() {
    return g_verbosity.load();
}

void set_verbosity(Verbosity level) {
    g_verbosity.store(level);
}

bool stderr_is_terminal() {
    const char* term = std::getenv("TERM");
    return ::isatty(2) == 1 && (term == nullptr || std::string_view(term) != "dumb");
}

bool stderr_in_colour() {
    return stderr_is_terminal() && !env_set("NO_COLOR");
}

std::string paint(Tone tone, const std::string& label) {
    if (!stderr_in_colour()) {
        return label;
    }
    // Bold red, bold yellow, cyan: the colours compilers and package managers use.
    const char* const start = tone == Tone::error     ? "\033[1;31m"
                              : tone == Tone::warning ? "\033[1;33m"
                                                      : "\033[36m";
    return start + label + "\033[0m";
}

void warn(const std::string& text) {
    std::fprintf(stderr, "%s %s\n", paint(Tone::warning, "warning:").c_str(),
                 printable(text).c_str());
}

void say(const std::string& text) {
    if (verbosity() != Verbosity::quiet) {
        std::fprintf(stderr, "%s\n", text.c_str());
    }
}

void step(const std::string& text) {
    if (verbosity() == Verbosity::verbose) {
        std::fprintf(stderr, "  %s\n", printable(text).c_str());
    }
}

} // namespace ferry
