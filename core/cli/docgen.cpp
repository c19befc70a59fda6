// ferry-docgen OUTDIR: writes the man pages OUTDIR/man1/ferry-{applier,bundler}.1 and the bash
// completion scripts OUTDIR/completions/ferry-{applier,bundler}, from the command lines the
// tools themselves build. Run by CMake at build time; never installed.

#include "applier/commands.hpp"
#include "bundler/commands.hpp"
#include "core/build_info.hpp"
#include "core/cli/docs.hpp"
#include "core/defaults.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

std::string applier_sections() {
    return ".SH FILES\n.TP\n.I " + ferry::roff_escape(ferry::k_default_trust_store) +
           "\nThe node's own trust store, which \\-\\-trust defaults to.\n.TP\n.I " +
           ferry::roff_escape(ferry::k_default_state_dir) + R"(
The applier's state: the state database, runs, staged bundles, backups and the audit log
(\-\-state\-dir changes it).
.SH "SEE ALSO"
.BR ferry\-bundler (1),
.BR minisign (1).
The operator's runbook, the bundle format and the JSON documents are in Ferry's documentation
(docs/operator.md, docs/format.md, docs/json.md).
)";
}

std::string bundler_sections() {
    return R"(.SH ENVIRONMENT
.TP
.B FERRY_PASSPHRASE
The passphrase of an encrypted secret key, read instead of asking on the terminal, for every
key that has no \-\-passphrase\-file; for scripts and tests. A new key's passphrase must have at
least 12 characters.
.TP
.B SOURCE_DATE_EPOCH
The build time written into the manifest: the same spec and inputs with the same value give the
same bundle, byte for byte, whatever \-\-threads.
.SH "SEE ALSO"
.BR ferry\-applier (1),
.BR minisign (1).
The bundle spec and format are in Ferry's documentation (docs/format.md, docs/audit.md).
)";
}

void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: ferry-docgen OUTDIR\n");
        return 2;
    }
    try {
        const std::filesystem::path dir = argv[1];
        std::filesystem::create_directories(dir / "man1");
        std::filesystem::create_directories(dir / "completions");
        CLI::App applier;
        ferry::applier::make_applier_app(applier);
        write(dir / "man1" / "ferry-applier.1",
              ferry::man_page(applier, std::string(ferry::build_version()), applier_sections()));
        write(dir / "completions" / "ferry-applier", ferry::bash_completion(applier));
        CLI::App bundler;
        ferry::bundler::make_bundler_app(bundler);
        write(dir / "man1" / "ferry-bundler.1",
              ferry::man_page(bundler, std::string(ferry::build_version()), bundler_sections()));
        write(dir / "completions" / "ferry-bundler", ferry::bash_completion(bundler));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ferry-docgen: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
