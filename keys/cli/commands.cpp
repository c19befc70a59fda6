#include "commands.hpp"

#include "core/build_info.hpp"
#include "core/cli/cli.hpp"
#include "core/defaults.hpp"
#include "core/error.hpp"
#include "core/json.hpp"
#include "keys/bundle.hpp"
#include "keys/verify_report.hpp"
#include "core/fs.hpp"

#include <cstdio>
#include <map>
#include <memory>

namespace ferry::keys {

namespace {

std::string human_size(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

std::uint64_t file_count(const schema::Manifest& m) {
    std::uint64_t n = 0;
    for (const auto& c : m.components) {
        n += c.files;
    }
    return n;
}

std::uint64_t file_bytes(const schema::Manifest& m) {
    std::uint64_t n = 0;
    for (const auto& c : m.components) {
        n += c.bytes;
    }
    return n;
}

void write_part_json(JsonWriter& j, const BundlePart& p) {
    j.begin_object().field("file", p.file.string()).field("number", static_cast<std::uint64_t>(p.span.number))
        .field("offset", p.span.offset).field("size", p.span.size).field("first_chunk", p.span.first_chunk + 1)
        .field("chunks", p.span.chunk_count).end_object();
}

void write_parts_json(JsonWriter& j, const BundleInfo& info) {
    if (info.parts.empty() && info.parts_problem.empty()) {
        return;
    }
    j.key("parts").begin_array();
    for (const auto& p : info.parts) {
        write_part_json(j, p);
    }
    j.end_array();
    if (!info.parts_problem.empty()) {
        j.field("parts_problem", info.parts_problem);
    }
}

void write_signatures_json(JsonWriter& j, const BundleInfo& info) {
    j.key("signatures").begin_array();
    for (std::size_t i = 0; i < info.head.signatures.size(); ++i) {
        j.begin_object().field("key_id", info.head.signatures[i].key_id);
        if (info.auth) {
            const auto& s = info.auth->signatures[i];
            j.field("key_name", s.key_name).field("status", status_text(s.status));
            if (!s.reason.empty()) {
                j.field("reason", s.reason);
            }
        } else {
            j.field("status", "not verified");
        }
        j.end_object();
    }
    j.end_array();
}

void write_manifest_json(JsonWriter& j, const BundleInfo& info, bool files) {
    const schema::Manifest& m = info.manifest;
    j.field("bundle", info.path.string()).field("bundle_size", info.file_size);
    j.field("name", m.name).field("version", m.version.str()).field("sequence", m.sequence);
    j.field("created", format_time(m.created)).field("expires", format_time(m.expires));
    j.key("compatible").begin_object().field("product", m.compatible.product)
        .field("channel", m.compatible.channel).end_object();
    j.field("upgrade_from", m.upgrade_from);
    j.key("min_applier_version");
    if (m.min_applier_version) {
        j.value(m.min_applier_version->str());
    } else {
        j.null();
    }
    j.key("breaking_changes").begin_array();
    for (const auto& b : m.breaking_changes) {
        j.value(b);
    }
    j.end_array();
    write_signatures_json(j, info);
    j.key("components").begin_array();
    for (const auto& c : m.components) {
        j.begin_object().field("name", c.name).field("version", c.version).field("files", c.files)
            .field("bytes", c.bytes).end_object();
    }
    j.end_array();
    j.field("file_count", file_count(m)).field("file_bytes", file_bytes(m));
    j.field("payload_bytes", m.payload.size).field("chunks", static_cast<std::uint64_t>(m.payload.chunks.size()));
    write_parts_json(j, info);
    if (files) {
        j.key("files").begin_array();
        for (const auto& f : m.files) {
            j.begin_object().field("path", f.path).field("role", f.role).field("size", f.size)
                .field("mode", schema::format_mode(f.mode)).field("sha256", to_hex(f.sha256))
                .field("dest", f.dest).end_object();
        }
        j.end_array();
    }
}

std::string chunk_range(const PartSpan& span) {
    return "payload chunks " + std::to_string(span.first_chunk + 1) + " to " + std::to_string(span.end_chunk());
}

std::string parts_text(const BundleInfo& info) {
    if (!info.parts_problem.empty()) {
        return "parts:            not all in place: " + info.parts_problem + "\n";
    }
    if (info.parts.empty()) {
        return {};
    }
    std::string out = "parts:            " + std::to_string(info.parts.size()) + ", all in place\n";
    for (const auto& p : info.parts) {
        out += "  " + p.file.filename().string() + "  " + human_size(p.span.size) + ", " + chunk_range(p.span) + "\n";
    }
    return out;
}

// inspect of a part other than the first.
int inspect_part(const std::string& file, bool json) {
    const PartIdentity id = identify_part(file);
    const std::string number = id.number != 0 ? std::to_string(id.number) : std::string("?");
    if (json) {
        JsonWriter j;
        j.begin_object().field("result", "inspected").field("part", file).field("bundle", id.bundle);
        j.field("number", static_cast<std::uint64_t>(id.number));
        if (id.of) {
            j.field("of", static_cast<std::uint64_t>(*id.of));
        }
        if (id.span) {
            j.field("offset", id.span->offset).field("size", id.span->size).field("first_chunk", id.span->first_chunk + 1)
                .field("chunks", id.span->chunk_count);
        }
        j.field("identified_by", id.source).end_object();
        std::fputs(j.str().c_str(), stdout);
        return 0;
    }
    std::string out = "part:             " + file + "\n";
    out += "bundle:           " + id.bundle + "\n";
    out += "part number:      " + number + (id.of ? " of " + std::to_string(*id.of) : std::string()) + "\n";
    if (id.span) {
        out += "holds:            bytes " + std::to_string(id.span->offset) + " to " +
               std::to_string(id.span->offset + id.span->size - 1) + " of the bundle, " + chunk_range(*id.span) + "\n";
    }
    out += "identified by:    " + id.source + "\n";
    std::fputs(out.c_str(), stdout);
    return 0;
}

std::string inspect_text(const BundleInfo& info, bool files) {
    const schema::Manifest& m = info.manifest;
    std::string out;
    auto line = [&](const std::string& label, const std::string& value) {
        out += label + std::string(label.size() < 18 ? 18 - label.size() : 1, ' ') + value + "\n";
    };
    line("bundle:", info.path.string() + " (" + human_size(info.file_size) + ")");
    line("name:", m.name);
    line("version:", m.version.str());
    line("sequence:", std::to_string(m.sequence));
    line("created:", format_time(m.created));
    line("expires:", format_time(m.expires) + (m.expires <= now() ? "  (EXPIRED)" : ""));
    line("compatible:", "product " + m.compatible.product + ", channel " + m.compatible.channel);
    line("upgrade from:", m.upgrade_from);
    if (m.min_applier_version) {
        line("needs applier:", "ferry-applier " + m.min_applier_version->str() + " or newer");
    }
    std::string breaking = m.breaking_changes.empty() ? "none" : "";
    for (const auto& b : m.breaking_changes) {
        breaking += "\n  - " + b;
    }
    line("breaking changes:", breaking);
    line("signatures:", info.auth ? std::to_string(info.auth->valid) + " valid, " +
                                        std::to_string(info.auth->threshold) + " required"
                                  : "not verified (no trust store given)");
    for (std::size_t i = 0; i < info.head.signatures.size(); ++i) {
        std::string s = "  " + info.head.signatures[i].key_id;
        if (info.auth) {
            const auto& check = info.auth->signatures[i];
            s += "  " + (check.key_name.empty() ? std::string("-") : check.key_name) + "  " +
                 status_text(check.status);
        }
        out += s + "\n";
    }
    out += "components:\n";
    for (const auto& c : m.components) {
        out += "  " + c.name + " " + c.version + ": " + std::to_string(c.files) + " files, " +
               human_size(c.bytes) + "\n";
    }
    line("files:", std::to_string(file_count(m)) + " (" + human_size(file_bytes(m)) + ")");
    line("payload:", human_size(m.payload.size) + " zstd in " + std::to_string(m.payload.chunks.size()) +
                         " chunk(s) of " + human_size(m.payload.chunk_size));
    out += parts_text(info);
    if (files) {
        for (const auto& f : m.files) {
            out += "  " + schema::format_mode(f.mode) + " " + std::to_string(f.size) + " " + f.path +
                   (f.dest.empty() ? "" : " -> " + f.dest) + "\n";
        }
    }
    return out;
}

// The one-line result verify prints for a verified bundle.
std::string verified_line(const VerifiedBundle& v, bool quick) {
    const schema::Manifest& m = v.info.manifest;
    const std::string what = quick ? "every chunk's hash matches (quick: nothing decompressed)"
                                   : std::to_string(m.files.size()) + " files in " + std::to_string(v.chunks) + " chunks intact";
    const std::string parts = v.info.parts.empty() ? std::string() : ", read from " + std::to_string(v.info.parts.size()) + " parts";
    return "verified: " + m.name + " " + m.version.str() + " (sequence " + std::to_string(m.sequence) + "), signed by " +
           counted_text(*v.info.auth) + "; " + what + parts + "; expires " + format_time(m.expires) + "\n";
}

// verify --report: the report is written whether the bundle verifies or not; then the
// result is printed, or the refusal thrown, as without it.
int verify_and_report(const std::string& tool, const std::string& bundle, const TrustStore& trust,
                      const std::string& trust_file, const std::filesystem::path& file, const VerifyOptions& options,
                      bool json) {
    const ReportFormat format = report_format(file);
    const std::filesystem::path folder = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec)) {
        throw Error(ErrorKind::usage, "--report " + file.string() + ": no folder " + folder.string(), "create it first");
    }
    VerifyReport report = verify_with_report(bundle, trust, trust_file, options);
    report.verifier = tool + " " + std::string(build_version());
    write_file_atomic(file, format == ReportFormat::json ? report_json(report) : report_markdown(report));
    if (report.error) {
        throw Error(report.error->kind(), report.error->what(),
                    report.error->hint().empty() ? "the report " + file.string() + " says which check failed"
                                                 : report.error->hint());
    }
    const VerifiedBundle v{*report.info, report.info->manifest.payload.chunks.size()};
    if (json) {
        JsonWriter j;
        j.begin_object().field("result", "verified").field("verified", true).field("quick", options.quick)
            .field("report", file.string());
        write_manifest_json(j, v.info, false);
        j.end_object();
        std::fputs(j.str().c_str(), stdout);
    } else {
        std::fputs(verified_line(v, options.quick).c_str(), stdout);
        std::fprintf(stderr, "report written to %s\n", file.string().c_str());
    }
    return 0;
}

} // namespace

void setup_inspect(CLI::App& app) {
    struct Args {
        std::string bundle;
        std::string trust;
        bool files = false;
        bool json = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("inspect", "Show what a bundle holds, reading only its manifest");
    cmd->add_option("bundle", args->bundle, "The .ferry bundle, any of its parts, or a folder holding one")->required();
    cmd->add_option("--trust", args->trust, "Trust store: also check the signatures");
    cmd->add_flag("--files", args->files, "List every file");
    cmd->add_flag("--json", args->json, "Print JSON");
    set_action(*cmd, [args] {
        std::error_code ec;
        const auto number = part_number(args->bundle);
        if (number && *number != 1 && !std::filesystem::is_directory(args->bundle, ec)) {
            return inspect_part(args->bundle, args->json);
        }
        std::unique_ptr<TrustStore> trust;
        if (!args->trust.empty()) {
            trust = std::make_unique<TrustStore>(load_trust_store(args->trust));
        }
        const BundleInfo info = inspect_bundle(args->bundle, trust.get(), args->files);
        if (args->json) {
            JsonWriter j;
            j.begin_object().field("result", "inspected");
            write_manifest_json(j, info, args->files);
            j.end_object();
            std::fputs(j.str().c_str(), stdout);
        } else {
            std::fputs(inspect_text(info, args->files).c_str(), stdout);
        }
        return 0;
    });
}

void setup_verify(CLI::App& app) {
    struct Args {
        std::string bundle;
        std::string trust = k_default_trust_store;
        std::string part;
        std::string report;
        bool json = false;
        bool quick = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("verify", "Check a bundle's signatures, expiry and every byte of its payload");
    cmd->add_option("bundle", args->bundle, "The .ferry bundle, its first part (NAME.ferry.001), or a folder holding it")->required();
    cmd->add_flag("--quick", args->quick, "Check signatures, expiry and every chunk's hash without decompressing");
    CLI::Option* part_given =
        cmd->add_option("--part", args->part, "Check only this part of the split bundle whose first part is given");
    cmd->add_option("--report", args->report,
                    "Also write every check made, the keys, the hashes and the trust store to FILE (.md or .json), "
                    "whether the bundle verifies or not")
        ->excludes(part_given);
    CLI::Option* trust_given =
        cmd->add_option("--trust", args->trust, "Trust store (default " + std::string(k_default_trust_store) + ", the node's own)");
    cmd->add_flag("--json", args->json, "Print the result as JSON");
    const std::string app_name = app.get_name();
    set_action(*cmd, [args, trust_given, app_name] {
        const TrustStore trust =
            load_trust_store(args->trust, trust_given->count() > 0 ? TrustOrigin::given : TrustOrigin::node_default);
        VerifyOptions options;
        options.now = now();
        options.progress = !args->json;
        options.quick = args->quick;
        if (!args->report.empty()) {
            return verify_and_report(app_name, args->bundle, trust, args->trust, args->report, options, args->json);
        }
        if (!args->part.empty()) {
            BundleReader reader(args->bundle, trust, options.now);
            const BundlePart part = reader.check_part(args->part, options.progress);
            const schema::Manifest& m = reader.info().manifest;
            if (args->json) {
                JsonWriter j;
                j.begin_object().field("result", "verified").field("verified", true).field("name", m.name)
                    .field("version", m.version.str()).field("sequence", m.sequence).key("part");
                write_part_json(j, part);
                j.field("total_chunks", static_cast<std::uint64_t>(m.payload.chunks.size())).end_object();
                std::fputs(j.str().c_str(), stdout);
            } else {
                const std::string number = part.span.number != 0 ? std::to_string(part.span.number) : std::string("?");
                std::printf("part intact: %s is part %s of %s %s (sequence %llu, signed by %llu trusted key(s)); "
                            "%s of %zu intact\n",
                            args->part.c_str(), number.c_str(), m.name.c_str(), m.version.str().c_str(),
                            static_cast<unsigned long long>(m.sequence),
                            static_cast<unsigned long long>(reader.info().auth->valid), chunk_range(part.span).c_str(),
                            m.payload.chunks.size());
            }
            return 0;
        }
        const VerifiedBundle v = verify_bundle(args->bundle, trust, options);
        if (args->json) {
            JsonWriter j;
            j.begin_object().field("result", "verified").field("verified", true).field("quick", args->quick);
            write_manifest_json(j, v.info, false);
            j.end_object();
            std::fputs(j.str().c_str(), stdout);
        } else {
            std::fputs(verified_line(v, args->quick).c_str(), stdout);
        }
        return 0;
    });
}

} // namespace ferry::keys
