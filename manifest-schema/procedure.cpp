#include "procedure.hpp"

#include "core/text.hpp"
#include "manifest-schema/spec.hpp"
#include "manifest-schema/version.hpp"

#include <algorithm>

namespace ferry::schema {

namespace {

const std::vector<std::string_view> k_hook_names = {"stop", "start", "pre_install", "post_install"};

Command parse_command(const Fields& f, std::string_view key) {
    const Command cmd = f.str_list(key);
    if (cmd.empty() || cmd[0].empty()) {
        f.fail(key, "expected a non-empty list: the program and its arguments");
    }
    return cmd;
}

std::vector<Check> parse_checks(const Fields& f, std::string_view key, bool with_retries) {
    std::vector<Check> checks;
    std::size_t i = 0;
    for (const auto& node : f.list(key)) {
        std::vector<std::string_view> allowed = {"name", "command", "timeout"};
        if (with_retries) {
            allowed.insert(allowed.end(), {"interval", "retries"});
        }
        const Fields c(node, f.file(), f.child_context(key) + "[" + std::to_string(i++) + "]",
                       allowed, f.kind());
        Check check;
        check.name = c.str("name");
        check.command = parse_command(c, "command");
        check.timeout = c.opt_u64("timeout").value_or(10);
        if (with_retries) {
            check.interval = c.opt_u64("interval").value_or(1);
            check.retries = c.opt_u64("retries").value_or(0);
        }
        if (check.timeout == 0 || check.timeout > 3600) {
            c.fail("timeout", "must be between 1 and 3600 seconds");
        }
        checks.push_back(std::move(check));
    }
    return checks;
}

void emit_command(YAML::Emitter& out, const Command& cmd) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const auto& arg : cmd) {
        out << YAML::DoubleQuoted << arg;
    }
    out << YAML::EndSeq;
}

void emit_checks(YAML::Emitter& out, const char* key, const std::vector<Check>& checks, bool with_retries) {
    if (checks.empty()) {
        return;
    }
    out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
    for (const auto& c : checks) {
        out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << c.name;
        out << YAML::Key << "command" << YAML::Value;
        emit_command(out, c.command);
        out << YAML::Key << "timeout" << YAML::Value << c.timeout;
        if (with_retries) {
            out << YAML::Key << "interval" << YAML::Value << c.interval;
            out << YAML::Key << "retries" << YAML::Value << c.retries;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
}

void emit_strings(YAML::Emitter& out, const char* key, const std::vector<std::string>& items) {
    out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
    for (const auto& s : items) {
        out << YAML::DoubleQuoted << s;
    }
    out << YAML::EndSeq;
}

} // namespace

namespace {

} // namespace

bool Procedure::empty() const {
    return hooks.empty() && health.empty() && smoke.empty() && !migrations &&
           backup_paths.empty() && backup_sqlite.empty() && image_load.empty() && cluster.empty();
}

std::optional<std::string> dest_path_problem(std::string_view path) {
    if (path.empty() || path[0] != '/') {
        return "must be an absolute path";
    }
    if (path.size() > 1024) {
        return "is longer than 1024 bytes";
    }
    if (path.size() > 1 && path.back() == '/') {
        return "must name a file, not a folder (it ends in \"/\")";
    }
    const std::string_view rel = path.substr(1);
    if (rel.empty()) {
        return "must not be the root folder";
    }
    std::size_t start = 0;
    while (start <= rel.size()) {
        std::size_t slash = rel.find('/', start);
        if (slash == std::string_view::npos) {
            slash = rel.size();
        }
        const std::string_view part = rel.substr(start, slash - start);
        if ((part.empty() && slash != rel.size()) || part == "." || part == "..") {
            return "must not contain empty, \".\" or \"..\" components";
        }
        if (part.size() > 255) {
            return "has a component longer than 255 bytes";
        }
        start = slash + 1;
    }
    return text_problem(path);
}

std::optional<std::string> payload_path_problem(std::string_view path) {
    if (path.empty() || path[0] == '/') {
        return "must be a relative path";
    }
    if (path.back() == '/') {
        return "must name a file, not a folder";
    }
    if (auto problem = text_problem(path)) {
        return problem; // before the "/" below shifts the byte it names
    }
    if (auto problem = dest_path_problem("/" + std::string(path))) {
        return problem;
    }
    // COMPONENT/ROLE/NAME, as the bundler writes it and the JSON Schema requires.
    const std::size_t first = path.find('/');
    const std::size_t second = first == std::string_view::npos ? first : path.find('/', first + 1);
    const std::string_view role =
        second == std::string_view::npos ? std::string_view() : path.substr(first + 1, second - first - 1);
    if (second == std::string_view::npos || !valid_name(path.substr(0, first)) ||
        std::find(k_roles.begin(), k_roles.end(), role) == k_roles.end()) {
        return "must be COMPONENT/ROLE/NAME (a component name, a role such as doc, then the file's name)";
    }
    return std::nullopt;
}

std::optional<std::string> never_installed_problem(std::string_view role, bool has_dest, bool has_refs,
                                                   const Procedure& procedure) {
    if (role == "image" && !has_dest && !has_refs && procedure.image_load.empty()) {
        return std::string("an image with no format and refs, and no dest, is installed only by procedure.images.load, "
                           "which is missing");
    }
    return std::nullopt;
}

Procedure parse_procedure(const Fields& top) {
    Procedure p;
    const Fields f = top.sub("procedure", {"hooks", "health", "smoke", "migrations", "backup", "images", "cluster"});
    if (f.has("hooks")) {
        const Fields hooks = f.sub("hooks", k_hook_names);
        for (const auto name : k_hook_names) {
            if (hooks.has(name)) {
                p.hooks[std::string(name)] = parse_command(hooks, name);
            }
        }
    }
    p.health = parse_checks(f, "health", true);
    p.smoke = parse_checks(f, "smoke", false);
    if (f.has("migrations")) {
        const Fields m = f.sub("migrations", {"database", "steps"});
        Migrations migrations;
        migrations.database = m.str("database");
        if (const auto problem = dest_path_problem(migrations.database)) {
            m.fail("database", *problem);
        }
        std::size_t i = 0;
        for (const auto& node : m.list("steps")) {
            const Fields s(node, f.file(), m.child_context("steps") + "[" + std::to_string(i++) + "]",
                           {"id", "up", "down"}, f.kind());
            MigrationStep step{s.str("id"), s.str("up"), s.opt_str("down").value_or("")};
            for (const auto& earlier : migrations.steps) {
                if (earlier.id == step.id) {
                    s.fail("id", "duplicate migration id \"" + step.id + "\"");
                }
            }
            migrations.steps.push_back(std::move(step));
        }
        p.migrations = std::move(migrations);
    }
    if (f.has("backup")) {
        const Fields b = f.sub("backup", {"paths", "sqlite"});
        p.backup_paths = b.str_list("paths");
        p.backup_sqlite = b.str_list("sqlite");
        for (const auto key : {"paths", "sqlite"}) {
            for (const auto& path : key == std::string_view("paths") ? p.backup_paths : p.backup_sqlite) {
                // A backup path may name a folder, written with a trailing "/".
                const bool folder = key == std::string_view("paths") && path.size() > 1 && path.back() == '/';
                if (const auto problem = dest_path_problem(folder ? path.substr(0, path.size() - 1) : path)) {
                    b.fail(key, ferry::quoted(path) + " " + *problem);
                }
            }
        }
    }
    if (f.has("images")) {
        const Fields images = f.sub("images", {"load"});
        p.image_load = parse_command(images, "load");
    }
    if (f.has("cluster")) {
        const Fields c = f.sub("cluster", {"role", "step_down", "synced", "peers"});
        for (const auto& [key, command] : {std::pair{"role", &p.cluster.role}, std::pair{"step_down", &p.cluster.step_down},
                                           std::pair{"synced", &p.cluster.synced}}) {
            if (c.has(key)) {
                *command = parse_command(c, key);
            }
        }
        if (c.has("peers")) {
            p.cluster.peers = c.str("peers");
            if (!parse_range(p.cluster.peers)) {
                c.fail("peers", ferry::quoted(p.cluster.peers) + " is not a version range like \">=1.0.0 <3.0.0\"");
            }
        }
        if (!p.cluster.step_down.empty() && p.cluster.role.empty()) {
            c.fail("step_down", "needs cluster.role: the leader must be found before it steps down");
        }
    }
    return p;
}

void emit_procedure(YAML::Emitter& out, const Procedure& p) {
    out << YAML::Key << "procedure" << YAML::Value << YAML::BeginMap;
    if (!p.hooks.empty()) {
        out << YAML::Key << "hooks" << YAML::Value << YAML::BeginMap;
        for (const auto& [name, cmd] : p.hooks) {
            out << YAML::Key << name << YAML::Value;
            emit_command(out, cmd);
        }
        out << YAML::EndMap;
    }
    emit_checks(out, "health", p.health, true);
    emit_checks(out, "smoke", p.smoke, false);
    if (p.migrations) {
        out << YAML::Key << "migrations" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "database" << YAML::Value << YAML::DoubleQuoted << p.migrations->database;
        out << YAML::Key << "steps" << YAML::Value << YAML::BeginSeq;
        for (const auto& s : p.migrations->steps) {
            out << YAML::BeginMap << YAML::Key << "id" << YAML::Value << YAML::DoubleQuoted << s.id;
            out << YAML::Key << "up" << YAML::Value << YAML::DoubleQuoted << s.up;
            if (!s.down.empty()) {
                out << YAML::Key << "down" << YAML::Value << YAML::DoubleQuoted << s.down;
            }
            out << YAML::EndMap;
        }
        out << YAML::EndSeq << YAML::EndMap;
    }
    if (!p.backup_paths.empty() || !p.backup_sqlite.empty()) {
        out << YAML::Key << "backup" << YAML::Value << YAML::BeginMap;
        emit_strings(out, "paths", p.backup_paths);
        emit_strings(out, "sqlite", p.backup_sqlite);
        out << YAML::EndMap;
    }
    if (!p.image_load.empty()) {
        out << YAML::Key << "images" << YAML::Value << YAML::BeginMap << YAML::Key << "load"
            << YAML::Value;
        emit_command(out, p.image_load);
        out << YAML::EndMap;
    }
    if (!p.cluster.empty()) {
        out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
        for (const auto& [key, command] : {std::pair{"role", &p.cluster.role}, std::pair{"step_down", &p.cluster.step_down},
                                           std::pair{"synced", &p.cluster.synced}}) {
            if (!command->empty()) {
                out << YAML::Key << key << YAML::Value;
                emit_command(out, *command);
            }
        }
        if (!p.cluster.peers.empty()) {
            out << YAML::Key << "peers" << YAML::Value << YAML::DoubleQuoted << p.cluster.peers;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
}

} // namespace ferry::schema
