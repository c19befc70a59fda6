#include "split.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/progress.hpp"
#include "keys/bundle.hpp"

#include <memory>

namespace ferry::bundler {

namespace fs = std::filesystem;

SplitResult split_bundle(const SplitOptions& options) {
    if (keys::locate_bundle(options.bundle).split) {
        throw Error(ErrorKind::input,
                    options.bundle.string() + " is already a part of a split bundle",
                    "split the whole bundle, or join the parts first with cat");
    }
    const keys::BundleInfo info = keys::inspect_bundle(options.bundle, nullptr, false);
    const BundleGeometry& g = info.geometry;
    const auto& chunks = info.manifest.payload.chunks;
    if (info.file_size != g.file_size()) {
        throw Error(ErrorKind::verification,
                    options.bundle.string() + ": " + std::to_string(info.file_size) +
                        " bytes, but its head and manifest make " + std::to_string(g.file_size()));
    }
    const std::vector<PartSpan> spans = plan_parts(g, options.part_size);

    SplitResult out;
    out.out_dir = options.out_dir.empty() ? options.bundle.parent_path() : options.out_dir;
    if (out.out_dir.empty()) {
        out.out_dir = ".";
    }
    const std::string bundle_name = options.bundle.filename().string();
    out.list = out.out_dir / (bundle_name + std::string(k_parts_list_suffix));
    std::vector<fs::path> targets{out.list};
    for (const auto& span : spans) {
        targets.push_back(out.out_dir / part_file_name(bundle_name, span.number));
    }
    std::error_code ec;
    for (const auto& t : targets) {
        if (!options.force && fs::exists(t, ec)) {
            throw Error(ErrorKind::input, t.string() + " exists",
                        "remove it first, or pass --force to replace it");
        }
    }

    const Fd in = open_regular_file(options.bundle);
    std::vector<std::unique_ptr<AtomicFile>> files;
    Progress progress("splitting " + bundle_name, info.file_size, options.progress);
    std::string buffer;
    auto copy = [&](AtomicFile& file, Sha256& hash, std::uint64_t offset, std::uint64_t size) {
        buffer.resize(size);
        if (read_full_at(in.get(), buffer.data(), size, offset, options.bundle.string()) != size) {
            throw Error(ErrorKind::verification, options.bundle.string() +
                                                     ": truncated at offset " +
                                                     std::to_string(offset));
        }
        hash.update(buffer);
        file.write(buffer);
        progress.advance(size);
    };
    for (const auto& span : spans) {
        auto file = std::make_unique<AtomicFile>(targets[span.number], 0644);
        Sha256 hash;
        if (span.number == 1) {
            copy(*file, hash, 0, g.head_size);
        }
        for (std::uint64_t k = span.first_chunk; k < span.end_chunk(); ++k) {
            copy(*file, hash, g.chunk_offset(k), g.chunk_length(k));
            if (sha256(buffer) != chunks[k]) {
                throw Error(ErrorKind::verification,
                            options.bundle.string() + ": payload chunk " + std::to_string(k + 1) +
                                " of " + std::to_string(chunks.size()) +
                                ": sha256 mismatch; nothing was written",
                            "the bundle was changed or damaged after it was signed");
            }
        }
        if (span.end_chunk() == g.chunks()) {
            copy(*file, hash, g.head_size + g.payload_size, g.tail_size());
        }
        out.parts.push_back({span, hash.finish(), targets[span.number].filename().string()});
        files.push_back(std::move(file));
    }
    progress.finish();
    PartsList list;
    list.bundle = bundle_name;
    list.manifest_sha256 = to_hex(sha256(info.head.manifest));
    list.bundle_size = g.file_size();
    list.chunks = g.chunks();
    list.chunk_size = g.chunk_size;
    list.parts = out.parts;
    for (auto& f : files) {
        f->commit();
    }
    write_file_atomic(out.list, format_parts_list(list));
    return out;
}

} // namespace ferry::bundler
