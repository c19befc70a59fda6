#pragma once

// What differs between the two builds of greeter's one source: the release and what it requires.

#include <string_view>

#ifndef GREETER_VERSION
#error "GREETER_VERSION must be defined, e.g. -DGREETER_VERSION=\"1.0.0\""
#endif

namespace greeter {

// The release, as `greeter --version` and /health report it.
inline constexpr std::string_view k_version = GREETER_VERSION;

#ifdef GREETER_MAJOR_FEATURE
// 2.x: the LANGUAGE setting is required and greetings have a language column.
inline constexpr bool k_has_language = true;
#else
inline constexpr bool k_has_language = false;
#endif

// The schema version (PRAGMA user_version) this release needs at least.
inline constexpr int k_required_schema = k_has_language ? 2 : 1;

// The migration that brings the database to k_required_schema.
inline constexpr std::string_view k_required_migration =
    k_has_language ? "0002_add_language" : "0001_create_greetings";

} // namespace greeter
