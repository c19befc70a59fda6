#pragma once

// Shared by the fuzz targets: the entry point's name and what counts as a finding.
//
// Built with -DFERRY_FUZZ_LIBFUZZER each target is a libFuzzer program whose entry point is
// LLVMFuzzerTestOneInput; otherwise all targets link into ferry_fuzz_regress, so each entry
// point gets its own name (ferry_fuzz_<target>) and regress_main.cpp picks one by name.

#include "core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>
#include <typeinfo>

#ifdef FERRY_FUZZ_LIBFUZZER
#define FERRY_FUZZ_TARGET(name)                                                                    \
    extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
#else
#define FERRY_FUZZ_TARGET(name) int ferry_fuzz_##name(const std::uint8_t* data, std::size_t size)
#endif

namespace ferry::fuzz {

// Stops the run as a crash, so libFuzzer saves the input and the regression runner fails it.
[[noreturn]] inline void finding(std::string_view what) {
    std::fprintf(stderr, "ferry fuzz finding: %.*s\n", static_cast<int>(what.size()), what.data());
    std::fflush(stderr);
    __builtin_trap();
}

// Fails the run with WHAT unless CONDITION holds.
inline void check(bool condition, std::string_view what) {
    if (!condition) {
        finding(what);
    }
}

// Whether FERRY_FUZZ_VERBOSE is set: then the expected errors are printed, to see how far an
// input gets.
inline bool verbose() {
    static const bool on = std::getenv("FERRY_FUZZ_VERBOSE") != nullptr;
    return on;
}

// Runs BODY; a ferry::Error is the expected answer to bad input and is ignored, except one of
// kind internal (a bug, by its own definition). Anything else thrown is a finding. Returns
// whether BODY completed.
template <typename Body>
bool expect_errors(Body&& body) {
    try {
        body();
        if (verbose()) {
            std::fprintf(stderr, "accepted\n");
        }
        return true;
    } catch (const Error& e) {
        if (verbose()) {
            std::fprintf(stderr, "expected error: %s\n", e.what());
        }
        if (e.kind() == ErrorKind::internal) {
            std::fprintf(stderr, "internal error: %s\n", e.what());
            finding("ferry::Error of kind internal");
        }
        return false;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "exception other than ferry::Error (%s): %s\n", typeid(e).name(), e.what());
        finding("exception other than ferry::Error");
    } catch (...) {
        finding("exception of unknown type");
    }
}

// Rewrites the checksum of the 512-byte tar header at H as tar writers compute it, so that
// mutated headers get past the checksum test to the code behind it.
inline void fix_tar_checksum(char* h) {
    unsigned sum = 0;
    for (std::size_t i = 0; i < 512; ++i) {
        sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    }
    std::snprintf(h + 148, 8, "%06o", sum);
    h[155] = ' ';
}

// The input as text.
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

} // namespace ferry::fuzz
