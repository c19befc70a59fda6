#include "envelope.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <set>
#include <unistd.h>

namespace ferry {

namespace {

constexpr std::size_t k_block = 512;
constexpr std::uint64_t k_max_octal_size = 077777777777ULL; // 11 octal digits
using Block = std::array<char, k_block>;

void put_octal(char* field, std::size_t width, std::uint64_t value) {
    // WIDTH-1 zero-padded octal digits and a NUL, as ustar writers do.
    std::string digits(width - 1, '0');
    for (std::size_t i = width - 1; i-- > 0 && value > 0; value >>= 3) {
        digits[i] = static_cast<char>('0' + (value & 7));
    }
    std::memcpy(field, digits.data(), width - 1);
    field[width - 1] = '\0';
}

unsigned header_checksum(const Block& b) {
    unsigned sum = 0;
    for (std::size_t i = 0; i < k_block; ++i) {
        sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(b[i]);
    }
    return sum;
}

Block make_header(std::string_view name, std::uint64_t size, UnixTime mtime, char type) {
    Block b{};
    std::memcpy(b.data(), name.data(), name.size());
    put_octal(&b[100], 8, 0644);
    put_octal(&b[108], 8, 0);
    put_octal(&b[116], 8, 0);
    put_octal(&b[124], 12, size);
    put_octal(&b[136], 12, static_cast<std::uint64_t>(mtime));
    b[156] = type;
    std::memcpy(&b[257], "ustar", 6);
    std::memcpy(&b[263], "00", 2);
    put_octal(&b[329], 8, 0);
    put_octal(&b[337], 8, 0);
    const unsigned sum = header_checksum(b);
    put_octal(&b[148], 7, sum);
    b[155] = ' ';
    return b;
}

bool is_zero(const Block& b) {
    for (const char c : b) {
        if (c != 0) {
            return false;
        }
    }
    return true;
}

// Parses a NUL- or space-terminated octal field; nullopt if it is anything else.
std::optional<std::uint64_t> parse_octal(const char* field, std::size_t width) {
    std::size_t len = 0;
    while (len < width && field[len] >= '0' && field[len] <= '7') {
        ++len;
    }
    if (len == 0) {
        return std::nullopt;
    }
    for (std::size_t i = len; i < width; ++i) {
        if (field[i] != '\0' && field[i] != ' ') {
            return std::nullopt;
        }
    }
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(field, field + len, v, 8);
    if (ec != std::errc() || ptr != field + len) {
        return std::nullopt;
    }
    return v;
}

std::string pax_size_record(std::uint64_t size) {
    const std::string body = " size=" + std::to_string(size) + "\n";
    std::size_t len = body.size() + 1;
    while (std::to_string(len).size() + body.size() != len) {
        ++len;
    }
    return std::to_string(len) + body;
}

// The header fields, by offset, for messages.
struct HeaderField {
    std::size_t offset;
    std::size_t width;
    const char* name;
};
constexpr HeaderField k_fields[] = {
    {0, 100, "name"},          {100, 8, "mode"},          {108, 8, "uid"},          {116, 8, "gid"},
    {124, 12, "size"},         {136, 12, "mtime"},        {148, 8, "checksum"},     {156, 1, "type"},
    {157, 100, "link name"},   {257, 6, "magic"},         {263, 2, "version"},      {265, 32, "owner name"},
    {297, 32, "group name"},   {329, 8, "device major"},  {337, 8, "device minor"}, {345, 155, "prefix"},
    {500, 12, "padding"}};

// Refuses header B unless it is byte for byte the one make_header writes for its name, size,
// mtime and type: the envelope is not signed, so each bundle must have one byte-form.
void expect_canonical(const Block& b, const Block& canonical, const std::string& where) {
    for (const auto& f : k_fields) {
        if (std::memcmp(&b[f.offset], &canonical[f.offset], f.width) != 0) {
            throw Error(ErrorKind::verification,
                        where + ": the " + f.name + " field is " + quoted(std::string_view(&b[f.offset], f.width)) +
                            ", the format writes " + quoted(std::string_view(&canonical[f.offset], f.width)));
        }
    }
}

bool is_signature_name(std::string_view name) {
    if (!name.starts_with(k_signature_prefix) || !name.ends_with(k_signature_suffix)) {
        return false;
    }
    const std::string_view id = name.substr(
        k_signature_prefix.size(), name.size() - k_signature_prefix.size() - k_signature_suffix.size());
    if (id.size() != 16) {
        return false;
    }
    for (const char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

} // namespace

EnvelopeWriter::EnvelopeWriter(int fd, std::string what, UnixTime mtime)
    : m_fd(fd), m_what(std::move(what)), m_mtime(mtime) {}

void EnvelopeWriter::write_raw(const void* data, std::size_t size) {
    write_all(m_fd, data, size, m_what);
    m_offset += size;
}

void EnvelopeWriter::add(std::string_view name, std::string_view data) {
    begin(name, data.size());
    write_data(data.data(), data.size());
    end();
}

void EnvelopeWriter::begin(std::string_view name, std::uint64_t size) {
    if (name.empty() || name.size() >= 100) {
        throw Error(ErrorKind::internal, "envelope member name too long: " + std::string(name));
    }
    if (size > k_max_octal_size) {
        // POSIX pax extended header carrying the size, for payloads of 8 GiB and more.
        const std::string record = pax_size_record(size);
        const Block pax = make_header("PaxHeaders/payload", record.size(), m_mtime, 'x');
        write_raw(pax.data(), pax.size());
        Block data{};
        std::memcpy(data.data(), record.data(), record.size());
        write_raw(data.data(), data.size());
    }
    const Block header = make_header(name, size > k_max_octal_size ? 0 : size, m_mtime, '0');
    write_raw(header.data(), header.size());
    m_member_size = size;
}

void EnvelopeWriter::write_data(const void* data, std::size_t size) { write_raw(data, size); }

void EnvelopeWriter::copy_data(int in_fd, std::uint64_t in_offset, std::uint64_t size) {
    copy_range(in_fd, in_offset, m_fd, size, m_what);
    m_offset += size;
}

void EnvelopeWriter::skip_data(std::uint64_t size) {
    if (::lseek(m_fd, static_cast<off_t>(size), SEEK_CUR) < 0) {
        throw_errno("seeking in " + m_what);
    }
    m_offset += size;
}

void EnvelopeWriter::end() {
    const std::size_t pad = (k_block - m_member_size % k_block) % k_block;
    const Block zero{};
    write_raw(zero.data(), pad);
    m_member_size = 0;
}

void EnvelopeWriter::finish() {
    const Block zero{};
    write_raw(zero.data(), zero.size());
    write_raw(zero.data(), zero.size());
}

namespace {

class FdSource : public ByteSource {
public:
    FdSource(int fd, std::string what) : m_fd(fd), m_what(std::move(what)) {}
    std::size_t read(void* data, std::size_t size) override { return read_full(m_fd, data, size, m_what); }

private:
    int m_fd;
    std::string m_what;
};

} // namespace

EnvelopeReader::EnvelopeReader(int fd, std::string what)
    : m_own_source(std::make_unique<FdSource>(fd, what)), m_source(m_own_source.get()), m_what(std::move(what)) {}

EnvelopeReader::EnvelopeReader(ByteSource& source, std::string what) : m_source(&source), m_what(std::move(what)) {}

EnvelopeReader::~EnvelopeReader() = default;

void EnvelopeReader::read_exact(void* data, std::size_t size, std::string_view context) {
    const std::size_t n = m_source->read(data, size);
    if (n != size) {
        throw Error(ErrorKind::verification,
                    "truncated bundle: end of file at offset " +
                        std::to_string(m_offset + n) + " inside " + std::string(context),
                    "the copy is incomplete; copy the bundle from the original media again");
    }
    m_offset += size;
}

void EnvelopeReader::skip_rest() {
    std::array<char, 65536> buf{};
    while (m_remaining > 0) {
        if (read_some(buf.data(), buf.size()) == 0) {
            break;
        }
    }
    Block pad{};
    const std::uint64_t at = m_offset;
    read_exact(pad.data(), m_padding, "padding of " + m_current);
    for (std::size_t i = 0; i < m_padding; ++i) {
        if (pad[i] != 0) {
            throw Error(ErrorKind::verification, "envelope: the padding after member " + m_current +
                                                     " is not zero (at offset " + std::to_string(at + i) + ")");
        }
    }
    m_padding = 0;
}

std::optional<EnvelopeMember> EnvelopeReader::next() {
    skip_rest();
    for (;;) {
        const std::uint64_t header_offset = m_offset;
        Block b{};
        read_exact(b.data(), b.size(), "a member header");
        const std::string where = "envelope header at offset " + std::to_string(header_offset);
        if (is_zero(b)) {
            read_exact(b.data(), b.size(), "the end-of-archive marker");
            if (!is_zero(b)) {
                throw Error(ErrorKind::verification, where + ": incomplete end-of-archive marker");
            }
            char extra = 0;
            if (m_source->read(&extra, 1) != 0) {
                throw Error(ErrorKind::verification,
                            "data after the end of the archive at offset " +
                                std::to_string(m_offset));
            }
            return std::nullopt;
        }
        const auto stored_sum = parse_octal(&b[148], 8);
        if (!stored_sum || *stored_sum != header_checksum(b)) {
            throw Error(ErrorKind::verification, where + ": bad header checksum",
                        "the bundle is damaged");
        }
        if (std::memcmp(&b[257], "ustar\0" "00", 8) != 0) {
            throw Error(ErrorKind::verification, where + ": not a ustar header");
        }
        if (b[99] != '\0' || b[345] != '\0' || b[157] != '\0') {
            throw Error(ErrorKind::verification, where + ": unexpected name prefix or link name");
        }
        const std::string name(b.data(), ::strnlen(b.data(), 100));
        const auto size = parse_octal(&b[124], 12);
        const auto mode = parse_octal(&b[100], 8);
        if (!size || !mode || *mode != 0644) {
            throw Error(ErrorKind::verification, where + ": bad size or mode field");
        }
        const auto mtime = parse_octal(&b[136], 12);
        if (!mtime) {
            throw Error(ErrorKind::verification, where + ": bad mtime field");
        }
        if (m_mtime && *m_mtime != *mtime) {
            throw Error(ErrorKind::verification, where + ": mtime " + std::to_string(*mtime) +
                                                     " differs from the first member's, " + std::to_string(*m_mtime));
        }
        m_mtime = *mtime;
        const char type = b[156];
        if (type == 'x' || type == '0') {
            expect_canonical(b, make_header(name, *size, static_cast<UnixTime>(*mtime), type), where);
        }
        if (type == 'x' && !m_pax_size && name == "PaxHeaders/payload" && *size < k_block) {
            Block data{};
            read_exact(data.data(), k_block, "a pax header");
            const std::string record(data.data(), *size);
            if (!std::all_of(data.begin() + static_cast<std::ptrdiff_t>(*size), data.end(), [](char c) { return c == 0; })) {
                throw Error(ErrorKind::verification, where + ": the padding after the pax record is not zero");
            }
            std::uint64_t value = 0;
            const std::string prefix = std::to_string(record.size()) + " size=";
            const char* first = record.data() + prefix.size();
            const char* last = record.data() + record.size() - 1;
            if (!record.starts_with(prefix) || record.back() != '\n' ||
                std::from_chars(first, last, value).ptr != last || value <= k_max_octal_size) {
                throw Error(ErrorKind::verification, where + ": unexpected pax header");
            }
            m_pax_size = value;
            continue;
        }
        if (type != '0') {
            throw Error(ErrorKind::verification,
                        where + ": member \"" + name + "\" is not a regular file");
        }
        if (m_pax_size && (*size != 0 || name != k_payload_member)) {
            throw Error(ErrorKind::verification, where + ": pax size header not followed by the payload");
        }
        m_current = name;
        m_remaining = m_pax_size ? *m_pax_size : *size;
        m_pax_size.reset();
        m_padding = (k_block - m_remaining % k_block) % k_block;
        return EnvelopeMember{name, m_remaining, header_offset};
    }
}

std::string EnvelopeReader::read_all(std::size_t max_size) {
    if (m_remaining > max_size) {
        throw Error(ErrorKind::verification, "member " + m_current + " is too large (" +
                                                 std::to_string(m_remaining) + " bytes, limit " +
                                                 std::to_string(max_size) + ")");
    }
    std::string data(static_cast<std::size_t>(m_remaining), '\0');
    read_exact(data.data(), data.size(), m_current);
    m_remaining = 0;
    return data;
}

std::size_t EnvelopeReader::read_some(void* data, std::size_t size) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size, m_remaining));
    read_exact(data, n, m_current);
    m_remaining -= n;
    return n;
}

namespace {

// Reads signature members until one that is not a signature (returned) or the end (nullopt).
std::optional<EnvelopeMember> read_signatures(EnvelopeReader& reader, std::vector<BundleHead::Signature>& out) {
    std::set<std::string> seen;
    for (;;) {
        auto member = reader.next();
        if (!member || !member->name.starts_with(k_signature_prefix)) {
            return member;
        }
        if (!is_signature_name(member->name)) {
            throw Error(ErrorKind::verification,
                        "unexpected member \"" + member->name + "\" at offset " + std::to_string(member->header_offset));
        }
        if (!seen.insert(member->name).second) {
            throw Error(ErrorKind::verification, "duplicate member \"" + member->name + "\"");
        }
        const std::string id = member->name.substr(k_signature_prefix.size(), 16);
        out.push_back({id, reader.read_all(k_max_signature_size)});
    }
}

} // namespace

TrustBundleHead read_trust_bundle_head(EnvelopeReader& reader) {
    TrustBundleHead head;
    const auto first = reader.next();
    if (!first || first->name != k_trust_member) {
        throw Error(ErrorKind::verification,
                    "not a trust bundle: the first member is " +
                        (first ? "\"" + first->name + "\"" : std::string("missing")) + ", expected \"trust.yaml\"",
                    first && first->name == k_manifest_member ? "this is a software bundle: apply it with `ferry-applier apply`"
                                                              : "");
    }
    head.store = reader.read_all(k_max_trust_store_size);
    if (const auto extra = read_signatures(reader, head.signatures)) {
        throw Error(ErrorKind::verification,
                    "unexpected member \"" + extra->name + "\" at offset " + std::to_string(extra->header_offset) +
                        " (a trust bundle holds trust.yaml and its signatures only)");
    }
    if (head.signatures.empty()) {
        throw Error(ErrorKind::verification, "trust bundle carries no signature");
    }
    return head;
}

BundleHead read_bundle_head(EnvelopeReader& reader, const Limits& limits, Unsigned unsigned_bundle) {
    BundleHead head;
    auto member = reader.next();
    if (member && member->name == k_trust_member) {
        throw Error(ErrorKind::verification, "not a software bundle: it carries a trust store (trust.yaml)",
                    "a trust bundle changes the node's trust store: `ferry-applier trust update BUNDLE`");
    }
    if (!member || member->name != k_manifest_member) {
        throw Error(ErrorKind::verification,
                    "not a Ferry bundle: the first member is " +
                        (member ? "\"" + member->name + "\"" : std::string("missing")) +
                        ", expected \"manifest.yaml\"");
    }
    head.manifest = reader.read_all(static_cast<std::size_t>(limits.manifest_bytes));
    std::set<std::string> seen;
    for (;;) {
        member = reader.next();
        if (!member) {
            throw Error(ErrorKind::verification, "bundle has no payload.tar.zst member");
        }
        if (member->name == k_payload_member) {
            break;
        }
        if (!is_signature_name(member->name)) {
            throw Error(ErrorKind::verification,
                        "unexpected member \"" + member->name + "\" at offset " +
                            std::to_string(member->header_offset));
        }
        if (!seen.insert(member->name).second) {
            throw Error(ErrorKind::verification, "duplicate member \"" + member->name + "\"");
        }
        const std::string id = member->name.substr(k_signature_prefix.size(), 16);
        head.signatures.push_back({id, reader.read_all(k_max_signature_size)});
    }
    if (head.signatures.empty() && unsigned_bundle == Unsigned::refused) {
        throw Error(ErrorKind::verification, "bundle carries no signature",
                    "an unsigned bundle is signed with `ferry-bundler sign`, or `manifest` and `attach`, before it is used");
    }
    head.payload_size = member->size;
    head.payload_offset = reader.offset();
    return head;
}

void expect_bundle_end(EnvelopeReader& reader) {
    if (const auto extra = reader.next()) {
        throw Error(ErrorKind::verification,
                    "unexpected member \"" + extra->name + "\" after the payload");
    }
}

} // namespace ferry
