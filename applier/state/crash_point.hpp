#pragma once

// Where the crash tests kill the applier: FERRY_TEST_CRASH_AT=NAME makes crash_point(NAME)
// send the process SIGKILL, so a test can stop it at exactly one journaled point.

#include <string>

namespace ferry::applier {

void crash_point(const std::string& name);

} // namespace ferry::applier
