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

// What the service knows of its cluster, run on a node with the node's variables.
struct Cluster {
    Command role;      // prints "leader" or "follower"
    Command step_down; // hands leadership to another node
    Command synced;    // exits 0 once the node caught up with the cluster
    std::string peers; // the versions this one interoperates with (a range), "" when unsaid

    [[nodiscard]] bool empty() const { return role.empty() && step_down.empty() && synced.empty() && peers.empty(); }
};

struct Procedure {
    std::map<std::string, Command> hooks; // stop, start, pre_install, post_install
    std::vector<Check> health;
    std::vector<Check> smoke;
    std::optional<Migrations> migrations;
    std::vector<std::string> backup_paths;
    std::vector<std::string> backup_sqlite;
    Command image_load; // with {path}; empty when images are not loaded
    Cluster cluster;

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

// Why a file of ROLE without a dest would never be installed under PROCEDURE (an image needs
// a format and refs, or procedure.images.load), or nullopt; the bundler and the manifest check share it.
[[nodiscard]] std::optional<std::string> never_installed_problem(std::string_view role, bool has_dest, bool has_refs,
                                                                 const Procedure& procedure);

} // namespace ferry::schema
