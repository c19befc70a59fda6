// Fuzz target: schema::parse_manifest and schema::parse_manifest_summary.
//
// Oracles, besides "no crash, only ferry::Error":
// - when both parsers accept the text, they agree on everything but the file list (and
//   whatever parse_manifest accepts, parse_manifest_summary accepts too);
// - emit_manifest(parse_manifest(x)) parses again and emits the same bytes;
// - when the fast path (parse_canonical_files) reads the `files:` block, yaml-cpp reads the same
//   document to the same files: the text with every "\nfiles:\n" turned into "\nfiles: \n"
//   (the same YAML, but no longer in Ferry's layout) goes through yaml-cpp alone.

#include "fuzz.hpp"

#include "core/sha256.hpp"
#include "manifest-schema/canonical.hpp"
#include "manifest-schema/manifest.hpp"

#include <optional>
#include <string>

namespace {

using namespace ferry;
using schema::Manifest;
using schema::ManifestFile;

std::optional<Manifest> try_parse(std::string_view text, bool summary) {
    std::optional<Manifest> m;
    fuzz::expect_errors([&] {
        m = summary ? schema::parse_manifest_summary(text, "manifest.yaml")
                    : schema::parse_manifest(text, "manifest.yaml");
    });
    return m;
}

bool same_file(const ManifestFile& a, const ManifestFile& b) {
    return a.path == b.path && a.component == b.component && a.role == b.role && a.size == b.size &&
           a.mode == b.mode && a.sha256 == b.sha256 && a.dest == b.dest &&
           a.config_mode == b.config_mode;
}

bool same_files(const std::vector<ManifestFile>& a, const std::vector<ManifestFile>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!same_file(a[i], b[i])) {
            std::fprintf(stderr, "files[%zu] differ: \"%s\" vs \"%s\"\n", i, a[i].path.c_str(),
                         b[i].path.c_str());
            return false;
        }
    }
    return true;
}

// Everything but the file list: the declared component totals, then the rest as emitted
// without files (emit_manifest recomputes the totals from the files, so they are compared
// before).
bool same_except_files(const Manifest& a, const Manifest& b) {
    if (a.components.size() != b.components.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.components.size(); ++i) {
        const auto& x = a.components[i];
        const auto& y = b.components[i];
        if (x.name != y.name || x.version != y.version || x.files != y.files || x.bytes != y.bytes) {
            return false;
        }
    }
    Manifest ca = a;
    Manifest cb = b;
    ca.files.clear();
    cb.files.clear();
    return schema::emit_manifest(ca) == schema::emit_manifest(cb);
}

// The `files:` block as parse_manifest finds it (split_files in manifest.cpp).
std::optional<std::string_view> files_block(std::string_view text) {
    const std::size_t files = text.find("\nfiles:\n");
    const std::size_t payload = text.find("\npayload:\n");
    if (files == std::string_view::npos || payload == std::string_view::npos || payload < files) {
        return std::nullopt;
    }
    const std::size_t list = files + 1 + std::string_view("files:\n").size();
    return text.substr(list, payload + 1 - list);
}

// The same YAML document, out of Ferry's layout so that only yaml-cpp reads it.
std::string without_layout(std::string_view text) {
    std::string out(text);
    for (std::size_t at = out.find("\nfiles:\n"); at != std::string::npos;
         at = out.find("\nfiles:\n", at)) {
        out.insert(at + 7, " ");
    }
    return out;
}

void check_round_trip(const Manifest& m) {
    const std::string first = schema::emit_manifest(m);
    std::optional<Manifest> again;
    try {
        again = schema::parse_manifest(first, "emitted.yaml");
    } catch (const Error& e) {
        std::fprintf(stderr, "emitted manifest:\n%s\nerror: %s\n", first.c_str(), e.what());
        fuzz::finding("emit_manifest(parse_manifest(x)) does not parse");
    }
    const std::string second = schema::emit_manifest(*again);
    if (first != second) {
        std::fprintf(stderr, "first emit:\n%s\nsecond emit:\n%s\n", first.c_str(), second.c_str());
        fuzz::finding("emit_manifest(parse_manifest(emit_manifest(m))) differs from emit_manifest(m)");
    }
}

void check_fast_path(std::string_view text, const Manifest& full) {
    const auto block = files_block(text);
    if (!block) {
        return;
    }
    std::optional<std::vector<ManifestFile>> canonical;
    fuzz::expect_errors([&] { canonical = schema::parse_canonical_files(*block); });
    if (!canonical) {
        return;
    }
    // Whether or not parse_manifest took the fast path (it does only when the cut lies at the
    // top level), it must read what yaml-cpp alone reads.
    const std::string plain = without_layout(text);
    std::optional<Manifest> slow;
    std::string error;
    try {
        slow = schema::parse_manifest(plain, "manifest.yaml");
    } catch (const Error& e) {
        error = e.what();
    }
    if (!slow) {
        std::fprintf(stderr, "yaml-cpp alone: %s\n", error.c_str());
        fuzz::finding("parse_manifest accepts a manifest that yaml-cpp alone rejects");
    }
    fuzz::check(same_files(full.files, slow->files), "parse_manifest reads other files than yaml-cpp");
    fuzz::check(same_except_files(full, *slow),
                "the manifest read with the fast path differs from yaml-cpp's outside the files");
}

} // namespace

FERRY_FUZZ_TARGET(manifest) {
    const std::string_view text = ferry::fuzz::as_text(data, size);
    const std::optional<Manifest> full = try_parse(text, false);
    const std::optional<Manifest> summary = try_parse(text, true);
    if (full) {
        ferry::fuzz::check(summary.has_value(),
                           "parse_manifest accepts what parse_manifest_summary refuses");
        ferry::fuzz::check(summary->files.empty() || summary->files.size() == full->files.size(),
                           "parse_manifest_summary returned a partial file list");
        ferry::fuzz::check(same_except_files(*full, *summary),
                           "parse_manifest and parse_manifest_summary disagree");
        check_round_trip(*full);
        check_fast_path(text, *full);
    }
    return 0;
}
