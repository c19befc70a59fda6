#include "receipt.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "keys/key_file.hpp"
#include "keys/signature.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <sys/stat.h>

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

// The name in the node key's files.
constexpr const char* k_node_key_name = "node";
// The largest receipt read back.
constexpr std::size_t k_max_receipt_size = 64 * 1024;

std::span<const std::uint8_t> bytes_of(const std::string& text) {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// The secret key file of the node's key: keys' unencrypted form, whose comment says why it is
// unencrypted (it signs unattended) instead of the test keys' warning.
std::string node_key_file(const keys::SecretKey& key) {
    const std::string text = keys::encode_secret_key_file(key, k_node_key_name, nullptr);
    return "untrusted comment: ferry node key, key id " + keys::key_id_hex(key.id()) +
           ", unencrypted: it signs the node's receipts unattended; readable by its owner only\n" +
           text.substr(text.find('\n') + 1);
}

// A string field of OBJECT, or "" (numbers given as their text).
std::string text_field(const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end()) {
        return {};
    }
    if (it->is_string()) {
        return it->get<std::string>();
    }
    if (it->is_number_integer()) {
        return std::to_string(it->get<std::int64_t>());
    }
    return {};
}

std::string receipt_json(const Receipt& r) {
    JsonWriter j;
    j.begin_object()
        .field("format", "ferry-receipt/1")
        .field("node", r.node)
        .field("node_key", r.node_key)
        .field("time", r.time)
        .field("result", r.result)
        .field("bundle", r.bundle)
        .field("version", r.version)
        .field("manifest_sha256", r.manifest_sha256)
        .field("records", r.records)
        .field("head", r.head)
        .end_object();
    return j.str();
}

Receipt parse_receipt(const std::string& text, const fs::path& file) {
    const auto fail = [&](const std::string& why) {
        return Error(ErrorKind::verification, file.string() + ": not a Ferry receipt: " + why);
    };
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw fail(e.what());
    }
    if (!j.is_object() || text_field(j, "format") != "ferry-receipt/1") {
        throw fail("no \"format\": \"ferry-receipt/1\"");
    }
    Receipt r;
    r.node = text_field(j, "node");
    r.node_key = text_field(j, "node_key");
    r.time = text_field(j, "time");
    r.result = text_field(j, "result");
    r.bundle = text_field(j, "bundle");
    r.version = text_field(j, "version");
    r.manifest_sha256 = text_field(j, "manifest_sha256");
    r.head = text_field(j, "head");
    if (!j.contains("records") || !j["records"].is_number_integer() ||
        j["records"].get<std::int64_t>() < 1 || r.head.size() != 64) {
        throw fail("\"records\" and \"head\" are required");
    }
    r.records = j["records"].get<std::int64_t>();
    r.file = file;
    return r;
}

// "after \"applied\" of greeter 2.0.0 at TIME": what the receipt closed, for messages.
std::string described(const Receipt& r) {
    std::string text = "after \"" + r.result + "\"";
    if (!r.bundle.empty()) {
        text += " of " + r.bundle + (r.version.empty() ? "" : " " + r.version);
    }
    return text + " at " + r.time;
}

} // namespace

keys::SecretKey open_node_key(const StateLayout& layout) {
    const fs::path file = layout.node_key();
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0) {
        keys::SecretKey key = keys::generate_secret_key();
        write_file_atomic(file, node_key_file(key), 0600);
        write_file_atomic(layout.node_public_key(),
                          keys::format_public_key_file(key.public_key(), k_node_key_name), 0644);
        return key;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw Error(ErrorKind::input,
                    file.string() +
                        ": the node's secret key must be a file readable by its owner only (mode " +
                        mode + ")",
                    "chmod 600 " + file.string() +
                        ", or remove it (and its .pub) to make a new node key");
    }
    keys::SecretKey key = keys::load_secret_key(file, nullptr);
    // The public key file is written from the secret one when it is missing or differs.
    const std::string pub = keys::format_public_key_file(key.public_key(), k_node_key_name);
    std::error_code ec;
    if (!fs::exists(layout.node_public_key(), ec) ||
        read_file(layout.node_public_key(), 4096) != pub) {
        write_file_atomic(layout.node_public_key(), pub, 0644);
    }
    return key;
}

std::optional<keys::PublicKey> node_public_key(const StateLayout& layout) {
    std::error_code ec;
    if (!fs::exists(layout.node_public_key(), ec)) {
        return std::nullopt;
    }
    return keys::read_public_key_file(layout.node_public_key());
}

Receipt write_receipt(StateDb& state, const keys::SecretKey& key) {
    const auto records = state.audit_records();
    if (records.empty()) {
        throw Error(ErrorKind::internal, "a receipt of an empty audit log");
    }
    const AuditRecord& last = records.back();
    Receipt r;
    static const Operator who = current_operator();
    r.node = who.host;
    r.node_key = keys::key_id_hex(key.id());
    r.time = format_time(now());
    r.result = last.action;
    try {
        const auto detail = nlohmann::json::parse(last.detail);
        if (detail.is_object()) {
            r.bundle = text_field(detail, "bundle");
            r.version = text_field(detail, "version");
            r.manifest_sha256 = text_field(detail, "manifest_sha256");
        }
    } catch (const nlohmann::json::exception&) {
        // A record whose detail is not JSON names no bundle.
    }
    r.records = static_cast<std::int64_t>(records.size());
    r.head = last.hash;
    char name[64];
    std::snprintf(name, sizeof name, "%08lld-%.12s.json", static_cast<long long>(r.records),
                  r.head.c_str());
    const fs::path dir = state.layout().receipts();
    fs::create_directories(dir);
    r.file = dir / name;
    const std::string text = receipt_json(r);
    const std::string trusted =
        "timestamp:" + std::to_string(now()) + "\tfile:" + std::string(name) + "\tnode:" + r.node;
    const std::string signature = keys::format_signature(keys::sign_message(
        key, bytes_of(text), trusted, "receipt of ferry node key " + r.node_key));
    write_file_atomic(r.file, text, 0644);
    write_file_atomic(r.file.string() + ".minisig", signature, 0644);
    return r;
}

std::vector<Receipt> read_receipts(const StateLayout& layout) {
    std::vector<Receipt> out;
    std::error_code ec;
    if (!fs::is_directory(layout.receipts(), ec)) {
        return out;
    }
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(layout.receipts())) {
        if (e.path().extension() == ".json") {
            files.push_back(e.path());
        }
    }
    if (files.empty()) {
        return out;
    }
    const auto key = node_public_key(layout);
    if (!key) {
        throw Error(ErrorKind::verification,
                    layout.receipts().string() + " holds receipts, but the node's public key " +
                        layout.node_public_key().string() + " is missing: they cannot be checked");
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        const std::string text = read_file(file, k_max_receipt_size);
        const fs::path sig_file = file.string() + ".minisig";
        if (!fs::exists(sig_file, ec)) {
            throw Error(ErrorKind::verification, file.string() + ": its signature " +
                                                     sig_file.filename().string() + " is missing");
        }
        const keys::Signature sig = keys::parse_signature(
            read_file(sig_file, keys::k_max_signature_file_size), sig_file.string());
        if (sig.id != key->id || !keys::verify_signature(*key, sig, bytes_of(text))) {
            throw Error(ErrorKind::verification,
                        file.string() + ": its signature does not verify with the node's key " +
                            keys::key_id_hex(key->id) + " (" + layout.node_public_key().string() +
                            "): the receipt was changed or not signed by this node");
        }
        out.push_back(parse_receipt(text, file));
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const Receipt& a, const Receipt& b) { return a.records < b.records; });
    return out;
}

std::string check_receipts(const std::vector<AuditRecord>& records,
                           const std::vector<Receipt>& receipts) {
    const auto have = static_cast<std::int64_t>(records.size());
    // The latest receipt first: it covers the most, so it names the whole loss.
    for (auto it = receipts.rbegin(); it != receipts.rend(); ++it) {
        const Receipt& r = *it;
        const std::string name = r.file.filename().string();
        if (r.records > have) {
            return "the log ends at record " + std::to_string(have) + ", but receipt " + name +
                   " (signed " + described(r) + ") covers " + std::to_string(r.records) +
                   " record(s): " +
                   (r.records == have + 1 ? "record " + std::to_string(r.records) + " is"
                                          : "records " + std::to_string(have + 1) + " to " +
                                                std::to_string(r.records) + " are") +
                   " missing (the log was truncated)";
        }
        const AuditRecord& covered = records[static_cast<std::size_t>(r.records - 1)];
        if (covered.hash != r.head) {
            return "record " + std::to_string(r.records) + " is not the one receipt " + name +
                   " (signed " + described(r) + ") covers: its hash is " + covered.hash +
                   ", the receipt's head " + r.head + " (the log was rewritten)";
        }
    }
    return {};
}

std::string audit_log_json(const std::vector<AuditRecord>& records) {
    JsonWriter j;
    j.begin_object()
        .field("result", "exported")
        .field("chain_intact", check_audit_chain(records).empty());
    j.key("records").begin_array();
    for (const auto& r : records) {
        j.begin_object()
            .field("seq", r.seq)
            .field("at", r.at)
            .field("action", r.action)
            .field("detail", r.detail)
            .field("prev", r.prev)
            .field("hash", r.hash)
            .end_object();
    }
    j.end_array().end_object();
    return j.str();
}

AuditExport export_audit(StateDb& state, const fs::path& dir) {
    std::error_code ec;
    if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
        throw Error(ErrorKind::usage, dir.string() + ": exists and is not an empty folder",
                    "give a new folder: an export never overwrites files");
    }
    const StateLayout layout = state.layout();
    const auto records = state.audit_records();
    AuditExport out;
    out.dir = dir;
    out.records = records.size();
    out.chain_intact = check_audit_chain(records).empty();
    fs::create_directories(dir / "receipts");
    write_file_atomic(dir / "audit.json", audit_log_json(records));
    // Copied as they are, checked or not: the export is the evidence the auditor checks.
    if (fs::is_directory(layout.receipts(), ec)) {
        for (const auto& e : fs::directory_iterator(layout.receipts())) {
            const std::string name = e.path().filename().string();
            if (e.is_regular_file() &&
                (name.ends_with(".json") || name.ends_with(".json.minisig"))) {
                write_file_atomic(dir / "receipts" / name, read_file(e.path(), k_max_receipt_size));
                out.receipts += name.ends_with(".json") ? 1 : 0;
            }
        }
    }
    if (fs::exists(layout.node_public_key(), ec)) {
        write_file_atomic(dir / "node.pub", read_file(layout.node_public_key(), 4096));
        out.public_key = true;
    }
    return out;
}

} // namespace ferry::applier
