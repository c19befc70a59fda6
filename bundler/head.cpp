#include "head.hpp"

#include "core/error.hpp"

#include <zstd.h>

namespace ferry::bundler {

namespace {

std::uint64_t round_block(std::uint64_t n) { return (n + k_tar_block - 1) / k_tar_block * k_tar_block; }

// The largest the payload tar can be: each entry's header, a pax header for a long name, its
// data padded to a block; then the end marker and libarchive's padding to a 10 KiB record.
std::uint64_t tar_bound(const std::vector<PlannedFile>& files) {
    std::uint64_t n = 2 * 10240;
    for (const auto& f : files) {
        n += 3 * k_tar_block + round_block(f.entry.path.size() + 64) + round_block(f.entry.size);
    }
    return n;
}

} // namespace

HeadLayout plan_head(const schema::Manifest& manifest, const std::vector<PlannedFile>& files,
                     std::uint64_t chunk_size,
                     const std::function<std::vector<std::size_t>(const std::string&)>& signature_sizes) {
    // zstd's worst case for the whole tar, plus slack for the headers and checksums of its
    // 8 MiB frames (22 bytes each at most, against 8 KiB of slack per frame).
    const std::uint64_t tar_size = tar_bound(files);
    const std::uint64_t payload_bound = ZSTD_compressBound(tar_size) + tar_size / 1024 + 65536;
    schema::Manifest widest = manifest;
    widest.payload.size = payload_bound;
    widest.payload.chunk_size = chunk_size;
    widest.payload.chunks.assign((payload_bound + chunk_size - 1) / chunk_size, Digest{});
    const std::string text = emit_manifest(widest);

    HeadLayout layout;
    layout.manifest_size = round_block(text.size() + 2); // room for at least "#" and a newline
    layout.payload_offset = payload_offset(layout.manifest_size, signature_sizes(text));
    return layout;
}

std::uint64_t payload_offset(std::uint64_t manifest_size, const std::vector<std::size_t>& signature_sizes) {
    std::uint64_t offset = k_tar_block + manifest_size;
    for (const std::size_t size : signature_sizes) {
        offset += k_tar_block + round_block(size);
    }
    return offset + k_tar_block; // the payload's own header
}

std::string pad_manifest(std::string manifest, std::uint64_t size) {
    if (manifest.size() + 2 > size) {
        throw Error(ErrorKind::internal, "manifest is larger than the room reserved for it");
    }
    const std::uint64_t spaces = size - manifest.size() - 2;
    manifest += "#";
    manifest.append(spaces, ' ');
    manifest += "\n";
    return manifest;
}

} // namespace ferry::bundler
