#include "applier/node/run.hpp"
#include "applier/node/run_parts.hpp"

#include "applier/node/migrations.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"

#include <set>

namespace ferry::applier {

namespace fs = std::filesystem;
using detail::kept_image_name;
using detail::link_or_copy;
using detail::without_slash;

// Images: loaded by the bundle's command, kept by content for a later rollback.

namespace detail {

std::string without_slash(const std::string& path) {
    return path.size() > 1 && path.back() == '/' ? path.substr(0, path.size() - 1) : path;
}

void link_or_copy(const fs::path& source, const fs::path& target) {
    fs::create_directories(target.parent_path());
    fs::remove(target);
    std::error_code ec;
    fs::create_hard_link(source, target, ec);
    if (ec) {
        copy_host_file(source, target);
    }
}

fs::path kept_image_name(const schema::ManifestFile& f) {
    return fs::path(to_hex(f.sha256)) / fs::path(f.path).filename();
}

} // namespace detail

std::vector<const schema::ManifestFile*> loaded_images(const schema::Manifest& m) {
    std::vector<const schema::ManifestFile*> out;
    if (!m.procedure.image_load.empty()) {
        for (const auto& f : m.files) {
            if (f.role == "image") {
                out.push_back(&f);
            }
        }
    }
    return out;
}

void Run::keep_images_of(const schema::Manifest& m,
                         const std::function<fs::path(const schema::ManifestFile&)>& source) {
    std::set<std::string> wanted;
    for (const auto* f : loaded_images(m)) {
        const fs::path from = source(*f);
        if (fs::exists(from)) {
            link_or_copy(from, image_store() / kept_image_name(*f));
            wanted.insert(to_hex(f->sha256));
        }
    }
    if (fs::exists(image_store())) {
        for (const auto& e : fs::directory_iterator(image_store())) {
            if (wanted.count(e.path().filename().string()) == 0) {
                fs::remove_all(e.path());
            }
        }
    }
}

void Run::load_image(const schema::Procedure& procedure, const std::string& name,
                     const fs::path& file, const std::string& version) {
    const auto argv = expand(expand(procedure.image_load, {{"path", file.string()}}), vars());
    say("  loading image " + name + ": " + shell_quoted(argv));
    const CommandSpec spec{argv, std::chrono::seconds(600), env(version),
                           m_state.layout().commands_log(m_id), "image load " + name};
    const CommandResult r = run_command(spec);
    if (r.exit_code != 0) {
        throw Error(ErrorKind::failed,
                    "loading image " + name + " failed: " + describe(r, spec.timeout));
    }
}

void Run::load_images(const Plan& plan) {
    for (const auto& path : plan.image_loads) {
        load_image(m_manifest.procedure, path, staging() / path, m_manifest.version.str());
    }
}

void Run::reload_images() {
    if (!m_previous || m_previous->procedure.image_load.empty()) {
        return;
    }
    for (const auto& item : m_state.backup_items(m_id)) {
        if (item.kind != BackupKind::image) {
            continue;
        }
        if (!item.existed) {
            m_notes.push_back("image " + item.path + " of " + m_previous->version.str() +
                              " was not kept on this node; load it again by hand");
            continue;
        }
        load_image(m_previous->procedure, item.path, item.copy, m_previous->version.str());
    }
    keep_images_of(*m_previous, [&](const schema::ManifestFile& f) {
        return m_state.layout().backup(m_id) / "images" / kept_image_name(f);
    });
}

} // namespace ferry::applier
