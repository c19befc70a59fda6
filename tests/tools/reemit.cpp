// ferry-reemit: Ferry's own reading of a manifest, for the differential test (test-only tool).
//
// Reads MANIFEST.yaml as ferry-applier does (parse_manifest) and prints it again with
// emit_manifest, so that another YAML reader can compare what Ferry read with what it reads
// itself. A manifest Ferry refuses prints the message on stderr and exits with code 3.

#include "core/error.hpp"
#include "core/fs.hpp"
#include "manifest-schema/manifest.hpp"

#include <cstdio>

int main(int argc, char** argv) {
    using namespace ferry;
    if (argc != 2) {
        std::fprintf(stderr, "usage: ferry-reemit MANIFEST.yaml\n");
        return 2;
    }
    try {
        const std::string text = read_file(argv[1], 512u << 20);
        const std::string out = schema::emit_manifest(schema::parse_manifest(text, argv[1]));
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
    } catch (const Error& e) {
        std::fprintf(stderr, "ferry-reemit: error: %s\n", printable(e.what()).c_str());
        return exit_code(e.kind());
    }
}
