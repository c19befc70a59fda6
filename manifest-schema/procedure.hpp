#pragma once

// The procedure data a bundle carries for the applier (docs/format.md, "Procedure").

#include "manifest-schema/yaml_fields.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ferry::schema {

// A program and its arguments, run without a shell.
using Command = std::vector<std::string>;

struct Check {
    std::string name;
    Command command;
    std::uint64_t timeout = 10;
    std::uint64_t interval = 1;
    std::uint64_t retries = 0;
};

struct MigrationStep {
    std::string id;
    std::string up;   // a file name in the spec, a payload path in the manifest
    std::string down; // optional
};

struct Migrations {
    std::string database;
    std::vector<MigrationStep> steps;
};

struct Procedure {
    std::map<std::string, Command> hooks; // stop, start, pre_install, post_install
    std::vector<Check> health;
    std::vector<Check> smoke;
    std::optional<Migrations> migrations;
    std::vector<std::string> backup_paths;
    std::vector<std::string> backup_sqlite;
    Command image_load; // with {path}; empty when images are not loaded

    [[nodiscard]] bool empty() const;
};

// Parses the `procedure` mapping.
[[nodiscard]] Procedure parse_procedure(const Fields& fields);

// Writes the procedure as the value of a `procedure` key.
void emit_procedure(YAML::Emitter& out, const Procedure& procedure);

// Why PATH is not a safe absolute install path of a file (no trailing "/"), or nullopt if it is.
[[nodiscard]] std::optional<std::string> dest_path_problem(std::string_view path);

// Why PATH is not a safe relative payload path, or nullopt if it is.
[[nodiscard]] std::optional<std::string> payload_path_problem(std::string_view path);

} // namespace ferry::schema
