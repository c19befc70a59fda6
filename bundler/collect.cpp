#include "collect.hpp"

#include "core/error.hpp"
#include "core/image_archive.hpp"

#include <algorithm>
#include <fnmatch.h>
#include <map>
#include <sys/stat.h>

namespace ferry::bundler {

namespace fs = std::filesystem;

namespace {

struct Found {
    fs::path path;
    std::string name; // base name, or the path below a folder source
};

bool has_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

void check_regular(const fs::path& path, const schema::SpecFile& file) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        throw Error(ErrorKind::input, file.where + ": source \"" + file.source + "\": " +
                                          path.string() + " does not exist");
    }
    if (S_ISLNK(st.st_mode)) {
        throw Error(ErrorKind::input, file.where + ": " + path.string() +
                                          " is a symlink; bundles hold regular files only",
                    "copy the file it points to into the source tree");
    }
    if (!S_ISREG(st.st_mode)) {
        throw Error(ErrorKind::input, file.where + ": " + path.string() + " is not a regular file");
    }
}

std::vector<Found> expand(const fs::path& base, const schema::SpecFile& file) {
    std::vector<Found> found;
    const fs::path source = base / file.source;
    if (file.image_format == ImageFormat::oci_layout) {
        // The layout folder is one file of the bundle: the OCI archive pack_layouts() makes of it.
        const fs::path dir = source.filename().empty() ? source.parent_path() : source;
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            throw Error(ErrorKind::input, file.source_where + ": " + dir.string() +
                                              " is not a folder (an oci-layout source is the "
                                              "layout's folder: oci-layout, index.json, blobs/)");
        }
        found.push_back({dir, dir.filename().string() + ".tar"});
    } else if (file.source.ends_with('/')) {
        std::error_code ec;
        if (!fs::is_directory(source, ec)) {
            throw Error(ErrorKind::input, file.where + ": source folder \"" + file.source +
                                              "\" does not exist");
        }
        for (auto it = fs::recursive_directory_iterator(source); it != fs::recursive_directory_iterator(); ++it) {
            if (it->is_directory() && !it->is_symlink()) {
                continue;
            }
            check_regular(it->path(), file);
            found.push_back({it->path(), fs::relative(it->path(), source).generic_string()});
        }
    } else if (has_glob(source.filename().string())) {
        const fs::path dir = source.parent_path();
        const std::string pattern = source.filename().string();
        std::error_code ec;
        for (const auto& item : fs::directory_iterator(dir, ec)) {
            const std::string name = item.path().filename().string();
            if (::fnmatch(pattern.c_str(), name.c_str(), FNM_PERIOD) == 0) {
                check_regular(item.path(), file);
                found.push_back({item.path(), name});
            }
        }
        if (ec || found.empty()) {
            throw Error(ErrorKind::input, file.where + ": source \"" + file.source + "\" matches no file");
        }
    } else {
        check_regular(source, file);
        found.push_back({source, source.filename().string()});
    }
    std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.name < b.name; });
    return found;
}

std::string dest_for(const schema::SpecFile& file, const Found& f, std::size_t count) {
    if (!file.dest) {
        return {};
    }
    const std::string& dest = *file.dest;
    if (dest.ends_with('/')) {
        return dest + f.name;
    }
    if (file.source.ends_with('/') || count > 1) {
        throw Error(ErrorKind::input, file.where + ": dest \"" + dest +
                                          "\" must be a folder (end in '/') for a source of several files");
    }
    return dest;
}

// The references FILE's spec entry names, each with its digests as the archive at PATH records them.
std::vector<schema::ImageRef> image_refs(const schema::SpecFile& file, const fs::path& path) {
    std::vector<ArchiveImage> images;
    try {
        images = read_image_archive(path, *file.image_format);
    } catch (const Error& e) {
        throw Error(ErrorKind::input,
                    file.source_where + ": not a valid " + std::string(image_format_name(*file.image_format)) + ": " +
                        e.what(),
                    "the format says how the image is laid out: oci-archive (a tar with index.json), "
                    "docker-archive (a tar with manifest.json) or oci-layout (a folder with oci-layout and "
                    "index.json)");
    }
    std::vector<schema::ImageRef> out;
    for (const auto& ref : file.image_refs) {
        const ArchiveImage* image = find_image(images, ref);
        if (image == nullptr) {
            std::string held;
            for (const auto& i : images) {
                for (const auto& r : i.refs) {
                    held += (held.empty() ? "" : ", ") + r;
                }
            }
            throw Error(ErrorKind::input,
                        file.refs_where + ": " + ferry::quoted(ref) + " is not in " + path.string() +
                            (held.empty() ? std::string(" (it names no reference)") : " (it holds " + held + ")"));
        }
        out.push_back({ref, image->digest, image->config});
    }
    return out;
}

} // namespace

std::vector<PlannedFile> plan_files(schema::BundleSpec& spec) {
    const fs::path base = spec.path.parent_path();
    std::vector<PlannedFile> planned;
    std::map<std::string, std::string> payload_paths; // path -> where
    std::map<std::string, std::string> dests;
    for (const auto& component : spec.components) {
        for (const auto& file : component.files) {
            const auto found = expand(base, file);
            for (const auto& f : found) {
                PlannedFile p;
                p.source = f.path;
                p.entry.path = component.name + "/" + file.role + "/" + f.name;
                p.entry.component = component.name;
                p.entry.role = file.role;
                p.entry.mode = file.mode;
                p.entry.config_mode = file.config_mode;
                p.entry.dest = dest_for(file, f, found.size());
                p.entry.size = file.image_format == ImageFormat::oci_layout ? 0 : fs::file_size(f.path);
                if (file.image_format) {
                    if (found.size() != 1) {
                        throw Error(ErrorKind::input, file.source_where + ": an image with refs is one archive, not " +
                                                          std::to_string(found.size()) + " files");
                    }
                    p.entry.image_format = file.image_format;
                    p.entry.images = image_refs(file, f.path);
                    if (file.image_format == ImageFormat::oci_layout) {
                        p.layout = f.path;
                        p.entry.image_format = ImageFormat::oci_archive; // what the bundle carries
                    }
                }
                if (const auto problem = schema::payload_path_problem(p.entry.path)) {
                    throw Error(ErrorKind::input, file.where + ": payload path " + ferry::quoted(p.entry.path) + " " + *problem);
                }
                if (!p.entry.dest.empty()) {
                    if (const auto problem = schema::dest_path_problem(p.entry.dest)) {
                        throw Error(ErrorKind::input, file.where + ": destination \"" + p.entry.dest + "\" " + *problem);
                    }
                    const auto [it, fresh] = dests.emplace(p.entry.dest, file.where);
                    if (!fresh) {
                        throw Error(ErrorKind::input, file.where + ": duplicate destination \"" + p.entry.dest +
                                                          "\" (also at " + it->second + ")");
                    }
                }
                const auto [it, fresh] = payload_paths.emplace(p.entry.path, file.where);
                if (!fresh) {
                    throw Error(ErrorKind::input, file.where + ": two files would be packed as \"" +
                                                      p.entry.path + "\" (also at " + it->second + ")");
                }
                planned.push_back(std::move(p));
            }
        }
    }
    std::sort(planned.begin(), planned.end(),
              [](const PlannedFile& a, const PlannedFile& b) { return a.entry.path < b.entry.path; });
    // No path may lie below another file's: it would have to be a folder and a file at once.
    for (const auto* paths : {&dests, &payload_paths}) {
        const char* what = paths == &dests ? "destination " : "payload path ";
        for (const auto& [path, where] : *paths) {
            for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
                const auto parent = paths->find(path.substr(0, slash));
                if (parent != paths->end()) {
                    throw Error(ErrorKind::input, where + ": " + what + ferry::quoted(path) + " lies below " +
                                                      ferry::quoted(parent->first) + ", a file from " + parent->second);
                }
            }
        }
    }
    if (spec.procedure.migrations) {
        for (auto& step : spec.procedure.migrations->steps) {
            for (std::string* name : {&step.up, &step.down}) {
                if (name->empty()) {
                    continue;
                }
                std::vector<std::string> matches;
                for (const auto& p : planned) {
                    if (p.entry.role == "migration" && p.entry.path.ends_with("/migration/" + *name)) {
                        matches.push_back(p.entry.path);
                    }
                }
                if (matches.size() != 1) {
                    throw Error(ErrorKind::input,
                                spec.path.string() + ": migration step \"" + step.id + "\": \"" + *name +
                                    "\" " + (matches.empty() ? "is not a migration file of the bundle"
                                                             : "names migration files of several components"));
                }
                *name = matches.front();
            }
        }
    }
    return planned;
}

std::vector<std::unique_ptr<AtomicFile>> pack_layouts(std::vector<PlannedFile>& files, const fs::path& dir,
                                                     std::int64_t mtime) {
    std::vector<std::unique_ptr<AtomicFile>> out;
    for (auto& f : files) {
        if (f.layout.empty()) {
            continue;
        }
        // Never committed: the temp file is the whole point, removed when the build ends.
        auto packed = std::make_unique<AtomicFile>(dir / ".ferry-layout.tar");
        write_layout_archive(f.layout, packed->fd(), packed->temp_path().string(), mtime);
        f.source = packed->temp_path();
        f.entry.size = fs::file_size(f.source);
        out.push_back(std::move(packed));
    }
    return out;
}

} // namespace ferry::bundler
