#include "verify_report.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "core/sha256.hpp"

#include <unistd.h>

#include <charconv>

namespace ferry::keys {

namespace {

std::string host_name() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) {
        return "?";
    }
    return name;
}

// The signing time a trusted comment carries ("timestamp:N\t..."), if any.
std::optional<UnixTime> signed_at(std::string_view trusted_comment) {
    constexpr std::string_view prefix = "timestamp:";
    if (!trusted_comment.starts_with(prefix)) {
        return std::nullopt;
    }
    const std::string_view rest = trusted_comment.substr(prefix.size());
    UnixTime when = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), when);
    if (ec != std::errc() || (end != rest.data() + rest.size() && *end != '\t')) {
        return std::nullopt;
    }
    return when;
}

// What a report says of one signature.
struct KeyRow {
    std::string id;
    std::string name;  // "" when the key is unknown
    std::string roles; // "" when the key is unknown
    std::optional<UnixTime> expires;
    std::optional<UnixTime> signed_at;
    bool counted = false;
    std::string status;
};

std::vector<KeyRow> key_rows(const VerifyReport& report) {
    std::vector<KeyRow> rows;
    if (!report.info || !report.info->auth) {
        return rows;
    }
    for (const auto& s : report.info->auth->signatures) {
        KeyRow row;
        row.id = s.key_id;
        row.name = s.key_name;
        row.counted = s.status == SignatureCheck::Status::valid;
        row.status = s.reason.empty() ? status_text(s.status) : s.reason;
        row.signed_at = signed_at(s.trusted_comment);
        const auto id = parse_key_id_hex(s.key_id);
        const TrustedKey* key = id && report.trust != nullptr ? report.trust->find(*id) : nullptr;
        if (key != nullptr) {
            row.roles = roles_text(key->roles);
            row.expires = key->expires;
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

// TEXT in a Markdown table cell: on one line, its pipes escaped.
std::string cell(std::string_view text) {
    std::string out;
    for (const char c : printable(text)) {
        if (c == '|') {
            out += "\\|";
        } else {
            out += c;
        }
    }
    return out;
}

std::string date_or(const std::optional<UnixTime>& t, const char* none) {
    return t ? format_time(*t) : std::string(none);
}

} // namespace

ReportFormat report_format(const std::filesystem::path& file) {
    const std::string ext = file.extension().string();
    if (ext == ".md") {
        return ReportFormat::markdown;
    }
    if (ext == ".json") {
        return ReportFormat::json;
    }
    throw Error(ErrorKind::usage, "--report " + file.string() + ": the name must end in .md (Markdown) or .json (JSON)");
}

VerifyReport verify_with_report(const std::string& bundle, const TrustStore& trust, const std::filesystem::path& trust_file,
                                const VerifyOptions& options) {
    VerifyReport report;
    report.host = host_name();
    report.at = options.now;
    report.bundle = bundle;
    report.quick = options.quick;
    report.trust_file = trust_file;
    report.trust_sha256 = to_hex(sha256_file(trust_file));
    report.trust = &trust;
    try {
        BundleReader reader(bundle, trust, options.now, &report.log);
        report.info = reader.info();
        const VerifiedBundle v = options.quick ? reader.check_chunks(options.progress)
                                               : reader.read_payload(nullptr, options.progress, options.label);
        report.info = v.info;
    } catch (const Error& e) {
        if (!report.log.fail_open(e.what())) {
            report.log.begin("bundle file");
            report.log.fail_open(e.what());
        }
        report.error = e;
    }
    return report;
}

std::string report_markdown(const VerifyReport& r) {
    const schema::Manifest* m = r.info ? &r.info->manifest : nullptr;
    std::string out = "# Verification report: " + (m ? cell(m->name + " " + m->version.str()) : cell(r.bundle)) + "\n\n";
    out += "| | |\n|---|---|\n";
    auto row = [&](const std::string& label, const std::string& value) { out += "| " + label + " | " + value + " |\n"; };
    row("Result", r.error ? "**NOT VERIFIED**" : r.quick ? "**verified** (quick: chunk hashes, nothing decompressed)" : "**verified**");
    row("Bundle", cell(r.bundle) + (r.info ? " (" + std::to_string(r.info->file_size) + " bytes)" : ""));
    if (m != nullptr) {
        row("Name, version, sequence", cell(m->name) + " " + cell(m->version.str()) + ", sequence " + std::to_string(m->sequence));
        row("Product, channel", cell(m->compatible.product) + ", " + cell(m->compatible.channel));
        row("Created", format_time(m->created));
        row("Expires", format_time(m->expires));
        row("Manifest SHA-256", "`" + to_hex(sha256(r.info->head.manifest)) + "`");
        row("Payload SHA-256", "`" + to_hex(m->payload.sha256) + "`" + (r.error ? " (as signed)" : " (as signed, and recomputed)"));
        if (!r.info->parts.empty()) {
            row("Parts", std::to_string(r.info->parts.size()));
        }
    }
    row("Trust store", cell(r.trust_file.string()) + ", version " + std::to_string(r.trust->version) + ", thresholds: release " +
                           std::to_string(r.trust->thresholds.release) + ", trust " + std::to_string(r.trust->thresholds.trust));
    row("Trust store SHA-256", "`" + r.trust_sha256 + "`");
    row("Verified at", format_time(r.at) + " on " + cell(r.host) + " by " + cell(r.verifier));
    if (r.error) {
        row("Error", cell(r.error->what()));
        if (!r.error->hint().empty()) {
            row("Hint", cell(r.error->hint()));
        }
    }
    out += "\n## Checks, in order\n\n| # | Check | Result | Detail |\n|---|---|---|---|\n";
    std::size_t n = 0;
    for (const auto& c : r.log.checks()) {
        out += "| " + std::to_string(++n) + " | " + cell(c.name) + " | " + (c.passed ? "passed" : "**FAILED**") + " | " +
               cell(c.detail) + " |\n";
    }
    const auto keys = key_rows(r);
    if (!keys.empty()) {
        out += "\n## Signatures\n\n| Key id | Name | Roles | Key expires | Signed at | Counted | Status |\n"
               "|---|---|---|---|---|---|---|\n";
        for (const auto& k : keys) {
            out += "| `" + k.id + "` | " + (k.name.empty() ? "-" : cell(k.name)) + " | " + (k.roles.empty() ? "-" : cell(k.roles)) +
                   " | " + date_or(k.expires, "-") + " | " + date_or(k.signed_at, "not stated") + " | " +
                   (k.counted ? "yes" : "no") + " | " + cell(k.status) + " |\n";
        }
    }
    return out;
}

std::string report_json(const VerifyReport& r) {
    JsonWriter j;
    j.begin_object().field("result", r.error ? failure_result(r.error->kind()) : std::string_view("verified"));
    j.field("verified", !r.error).field("quick", r.quick).field("bundle", r.bundle);
    j.field("verified_at", format_time(r.at)).field("host", r.host).field("verifier", r.verifier);
    j.key("trust_store").begin_object().field("file", r.trust_file.string()).field("version", r.trust->version)
        .field("sha256", r.trust_sha256).key("thresholds").begin_object().field("release", r.trust->thresholds.release)
        .field("trust", r.trust->thresholds.trust).end_object().end_object();
    if (r.info) {
        const schema::Manifest& m = r.info->manifest;
        j.field("name", m.name).field("version", m.version.str()).field("sequence", m.sequence);
        j.field("bundle_size", r.info->file_size);
        j.field("created", format_time(m.created)).field("expires", format_time(m.expires));
        j.field("manifest_sha256", to_hex(sha256(r.info->head.manifest)));
        j.field("payload_sha256", to_hex(m.payload.sha256)).field("payload_sha256_recomputed", !r.error);
    }
    j.key("checks").begin_array();
    for (const auto& c : r.log.checks()) {
        j.begin_object().field("check", c.name).field("passed", c.passed).field("detail", c.detail).end_object();
    }
    j.end_array();
    j.key("keys").begin_array();
    for (const auto& k : key_rows(r)) {
        j.begin_object().field("key_id", k.id).field("key_name", k.name).field("roles", k.roles);
        if (k.expires) {
            j.field("key_expires", format_time(*k.expires));
        }
        if (k.signed_at) {
            j.field("signed_at", format_time(*k.signed_at));
        }
        j.field("counted", k.counted).field("status", k.status).end_object();
    }
    j.end_array();
    if (r.error) {
        j.key("error").begin_object().field("kind", kind_name(r.error->kind())).field("message", r.error->what())
            .field("hint", r.error->hint()).field("exit_code", exit_code(r.error->kind())).end_object();
    }
    j.end_object();
    return j.str();
}

} // namespace ferry::keys
