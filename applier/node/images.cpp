#include "applier/node/run.hpp"
#include "applier/node/run_parts.hpp"

#include "applier/node/image_target.hpp"
#include "applier/node/migrations.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"

#include <set>

namespace ferry::applier {

namespace fs = std::filesystem;
using detail::kept_image_name;
using detail::link_or_copy;
using detail::find_file;
using detail::without_slash;

// Images: pushed to the node's image target (or loaded by the bundle's command), kept by
// content for a later rollback.

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

const schema::ManifestFile* find_file(const schema::Manifest& m, const std::string& path) {
    for (const auto& f : m.files) {
        if (f.path == path) {
            return &f;
        }
    }
    return nullptr;
}

} // namespace detail

std::vector<const schema::ManifestFile*> loaded_images(const schema::Manifest& m) {
    std::vector<const schema::ManifestFile*> out;
    for (const auto& f : m.files) {
        if (f.role == "image" && (!f.images.empty() || !m.procedure.image_load.empty())) {
            out.push_back(&f);
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

void Run::push_images(const schema::Manifest& m, const std::function<fs::path(const schema::ManifestFile&)>& source) {
    const auto refs = image_refs(m);
    if (refs.empty()) {
        return;
    }
    const ImageTarget target = load_image_target(m_root.root(), m_state.layout().image_layout());
    // Every image is checked against its signed digests before the first one is pushed.
    for (const auto* f : loaded_images(m)) {
        if (!f->images.empty()) {
            check_image_file(source(*f), *f);
        }
    }
    const auto say_line = [&](const std::string& line) { say(line); };
    for (const auto& [f, ref] : refs) {
        push_image(target, *f, source(*f), *ref, m_state.layout().commands_log(m_id), say_line);
    }
}

void Run::load_images(const Plan& plan) {
    for (const auto& path : plan.image_loads) {
        load_image(m_manifest.procedure, path, staging() / path, m_manifest.version.str());
    }
    push_images(m_manifest, [&](const schema::ManifestFile& f) { return staging() / f.path; });
}

void Run::reload_images() {
    if (!m_previous || loaded_images(*m_previous).empty()) {
        return;
    }
    std::map<std::string, fs::path> kept;
    for (const auto& item : m_state.backup_items(m_id)) {
        if (item.kind != BackupKind::image) {
            continue;
        }
        if (!item.existed) {
            m_notes.push_back("image " + item.path + " of " + m_previous->version.str() +
                              " was not kept on this node; load it again by hand");
            continue;
        }
        kept[item.path] = item.copy;
        const auto* f = find_file(*m_previous, item.path);
        if (f != nullptr && f->images.empty()) {
            load_image(m_previous->procedure, item.path, item.copy, m_previous->version.str());
        }
    }
    // The previous release's references are pushed again, so its tags name its digests again.
    // A target that cannot take them does not stop the rollback of the files and the service:
    // the operator is told what to push by hand.
    schema::Manifest kept_images = *m_previous;
    std::erase_if(kept_images.files, [&](const schema::ManifestFile& f) { return kept.count(f.path) == 0; });
    try {
        push_images(kept_images, [&](const schema::ManifestFile& f) { return kept.at(f.path); });
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::interrupted) {
            throw;
        }
        m_notes.push_back(std::string("the images of ") + m_previous->version.str() +
                          " could not be put back: " + e.what() + "; kept in " + image_store().string());
        say(std::string("  ") + m_notes.back());
    }
    keep_images_of(*m_previous, [&](const schema::ManifestFile& f) {
        return m_state.layout().backup(m_id) / "images" / kept_image_name(f);
    });
}

} // namespace ferry::applier
