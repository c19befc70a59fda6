#include "core/console.hpp"
#include "core/progress.hpp"

#include <doctest/doctest.h>

using namespace ferry;

TEST_CASE("ferry::format_bytes") {
    CHECK(format_bytes(0) == "0 KiB");
    CHECK(format_bytes(1) == "1 KiB");
    CHECK(format_bytes(812 * 1024) == "812 KiB");
    CHECK(format_bytes(12u * 1024 * 1024 + 512 * 1024) == "12.5 MiB");
    CHECK(format_bytes(3ull << 30) == "3.0 GiB");
}

TEST_CASE("ferry::format_rate") {
    CHECK(format_rate(0) == "--/s");
    CHECK(format_rate(64.0 * 1024 * 1024) == "64.0 MiB/s");
}

TEST_CASE("ferry::format_time_left") {
    CHECK(format_time_left(-1) == "--:--");
    CHECK(format_time_left(0) == "0:00");
    CHECK(format_time_left(64.2) == "1:05");
    CHECK(format_time_left(7390) == "2:03:10");
}

TEST_CASE("ferry::paint") {
    // Under ctest stderr is not a terminal: no colour, whatever the label (test_console.sh checks
    // colour on a terminal).
    if (stderr_is_terminal()) {
        return;
    }
    CHECK(paint(Tone::error, "error:") == "error:");
    CHECK(paint(Tone::warning, "warning:") == "warning:");
}

TEST_CASE("ferry::set_verbosity") {
    CHECK(verbosity() == Verbosity::normal);
    set_verbosity(Verbosity::quiet);
    CHECK(verbosity() == Verbosity::quiet);
    set_verbosity(Verbosity::normal);
}
