#include "core/error.hpp"
#include "manifest-schema/canonical.hpp"
#include "manifest-schema/manifest.hpp"
#include "manifest-schema/spec.hpp"
#include "manifest-schema/trust.hpp"
#include "manifest-schema/version.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace ferry;
using namespace ferry::schema;

namespace {

const std::string k_spec = R"(name: app
version: 1.2.3
sequence: 4
expires_in_days: 30
compatible: {product: app, channel: stable}
upgrade_from: ">=1.0.0 <2.0.0"
components:
  - name: app
    version: 1.2.3
    files:
      - {source: bin/app, role: binary, dest: /usr/bin/app}
      - {source: app.env, role: config, dest: /etc/app.env, config_mode: keep}
)";

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const auto pos = s.find(from);
    REQUIRE(pos != std::string::npos);
    return s.replace(pos, from.size(), to);
}

} // namespace

TEST_CASE("schema::parse_version") {
    CHECK(parse_version("1.2.3")->str() == "1.2.3");
    CHECK(parse_version("1.2.3-rc.1+b7")->prerelease == "rc.1");
    CHECK_FALSE(parse_version("1.2"));
    CHECK_FALSE(parse_version("01.2.3"));
    CHECK_FALSE(parse_version("1.2.3-"));
    CHECK_FALSE(parse_version("v1.2.3"));
    CHECK(parse_version("1.0.0-rc.1")->compare(*parse_version("1.0.0")) < 0);
    CHECK(parse_version("1.0.0-rc.2")->compare(*parse_version("1.0.0-rc.10")) < 0);
    CHECK(parse_version("1.10.0")->compare(*parse_version("1.9.9")) > 0);
}

TEST_CASE("schema::parse_range") {
    const auto r = parse_range(">=1.0.0 <2.0.0");
    REQUIRE(r);
    CHECK(r->contains(*parse_version("1.0.0")));
    CHECK(r->contains(*parse_version("1.9.9")));
    CHECK_FALSE(r->contains(*parse_version("2.0.0")));
    CHECK_FALSE(r->contains(*parse_version("0.9.0")));
    CHECK_FALSE(parse_range(""));
    CHECK_FALSE(parse_range("~1.0"));
}

TEST_CASE("schema::parse_spec") {
    SUBCASE("valid") {
        const BundleSpec s = parse_spec(k_spec, "app.yaml");
        CHECK(s.name == "app");
        CHECK(s.version.str() == "1.2.3");
        CHECK(*s.expires_in_days == 30);
        REQUIRE(s.components.size() == 1);
        CHECK(s.components[0].files[0].mode == 0755);
        CHECK(s.components[0].files[1].mode == 0644);
        CHECK(s.components[0].files[1].config_mode == "keep");
    }
    SUBCASE("min_applier_version and the applier role") {
        const std::string with = replace(replace(k_spec, "components:", "min_applier_version: \"0.2.0\"\ncomponents:"),
                                         "role: binary", "role: applier");
        const BundleSpec s = parse_spec(with, "app.yaml");
        REQUIRE(s.min_applier_version.has_value());
        CHECK(s.min_applier_version->str() == "0.2.0");
        CHECK(s.components[0].files[0].mode == 0755);
        CHECK_FALSE(parse_spec(k_spec, "app.yaml").min_applier_version.has_value());
        CHECK_THROWS_WITH_AS(parse_spec(replace(with, "\"0.2.0\"", "\"2\""), "app.yaml"),
                             "app.yaml:7: min_applier_version: \"2\" is not a semantic version", Error);
        CHECK_THROWS_WITH_AS(parse_spec(replace(with, ", dest: /usr/bin/app}", "}"), "app.yaml"),
                             "app.yaml:12: components[0].files[0].dest: an applier file needs an install destination (dest)",
                             Error);
    }
    SUBCASE("misspelt key") {
        CHECK_THROWS_WITH_AS(parse_spec(replace(k_spec, "sequence:", "sequense:"), "app.yaml"),
                             "app.yaml:3: unknown key \"sequense\" (did you mean \"sequence\"?)", Error);
    }
    SUBCASE("misspelt nested key") {
        CHECK_THROWS_WITH_AS(parse_spec(replace(k_spec, "{source: app.env", "{sorce: app.env"), "app.yaml"),
                             "app.yaml:12: unknown key \"sorce\" in components[0].files[1] (did you mean \"source\"?)",
                             Error);
    }
    SUBCASE("malformed version") {
        CHECK_THROWS_WITH_AS(parse_spec(replace(k_spec, "version: 1.2.3\nsequence", "version: 1.2\nsequence"), "app.yaml"),
                             "app.yaml:2: version: \"1.2\" is not a semantic version", Error);
    }
    SUBCASE("unknown role") {
        CHECK_THROWS_WITH_AS(parse_spec(replace(k_spec, "role: binary", "role: binery"), "app.yaml"),
                             "app.yaml:11: components[0].files[0].role: unknown role \"binery\" (binary, image, migration, config, doc, script or applier)",
                             Error);
    }
    SUBCASE("mode with setuid") {
        CHECK_THROWS_WITH_AS(parse_spec(replace(k_spec, "dest: /usr/bin/app}", "dest: /usr/bin/app, mode: \"4755\"}"), "app.yaml"),
                             "app.yaml:11: components[0].files[0].mode: \"4755\" is not an octal mode from 0000 to 0777",
                             Error);
    }
    SUBCASE("relative destination") {
        CHECK_THROWS_WITH_AS(parse_spec(replace(k_spec, "dest: /usr/bin/app", "dest: usr/../bin/app"), "app.yaml"),
                             "app.yaml:11: components[0].files[0].dest: \"usr/../bin/app\" must be an absolute path", Error);
    }
    SUBCASE("both expiry forms") {
        CHECK_THROWS_WITH_AS(parse_spec(replace(k_spec, "expires_in_days: 30", "expires_in_days: 30\nexpires: 2030-01-01T00:00:00Z"), "app.yaml"),
                             "app.yaml:5: expires: give exactly one of \"expires\" and \"expires_in_days\"", Error);
    }
    SUBCASE("YAML syntax") {
        CHECK_THROWS_WITH_AS(parse_spec("name: [unclosed\n", "app.yaml"), doctest::Contains("app.yaml:2: YAML syntax error"),
                             Error);
    }
}

TEST_CASE("schema::payload_path_problem") {
    CHECK_FALSE(payload_path_problem("a/doc/c"));
    CHECK_FALSE(payload_path_problem("a/doc/d/\u00e9\u4e2d"));
    CHECK(payload_path_problem("a/b/c") ==
          "must be COMPONENT/ROLE/NAME (a component name, a role such as doc, then the file's name)");
    CHECK(payload_path_problem("A/doc/c"));
    CHECK(payload_path_problem("a/doc"));
    CHECK(payload_path_problem("/abs"));
    CHECK(payload_path_problem("a/../x"));
    CHECK(payload_path_problem("a/.."));
    CHECK(payload_path_problem("."));
    CHECK(payload_path_problem(""));
    CHECK(payload_path_problem("a//b"));
    CHECK(payload_path_problem("a/"));
    CHECK(payload_path_problem(std::string(256, 'a')));
    CHECK(payload_path_problem(std::string("a\nb")));
}

TEST_CASE("schema::payload_path_problem and dest_path_problem: the cases shared with the JSON Schemas") {
    // tests/schema/test_schemas.py checks the same file against the schemas' patterns.
    const YAML::Node cases = YAML::LoadFile(FERRY_SOURCE_DIR "/tests/schema/path-cases.yaml");
    for (const char* kind : {"payload", "dest"}) {
        for (const char* verdict : {"valid", "invalid"}) {
            for (const auto& node : cases[kind][verdict]) {
                const std::string path = node.Scalar();
                CAPTURE(printable(path));
                const auto problem = std::string_view(kind) == "payload" ? payload_path_problem(path)
                                                                         : dest_path_problem(path);
                CHECK(problem.has_value() == (std::string_view(verdict) == "invalid"));
            }
        }
    }
}

TEST_CASE("schema::payload_path_problem: a message per class of character") {
    CHECK(payload_path_problem("a/doc/x\x1b[31m") == "must not contain control characters (NUL, newline, tab, ...)");
    CHECK(payload_path_problem("a/doc/x\xc2\x85") == "must not contain the C1 control character U+0085");
    CHECK(payload_path_problem("a/doc/x\xe2\x80\xae") == "must not contain the bidirectional control U+202E");
    CHECK(payload_path_problem("a/doc/x\xe2\x80\xa8") == "must not contain the line or paragraph separator U+2028");
    CHECK(payload_path_problem("a/doc/x\xff") == "is not valid UTF-8 (byte 7)");
    CHECK(payload_path_problem("a/doc/x\xc0\xaf") == "is not valid UTF-8 (byte 7)");         // overlong "/"
    CHECK(payload_path_problem("a/doc/x\xed\xa0\x80") == "is not valid UTF-8 (byte 7)");    // a surrogate
}

TEST_CASE("printable") {
    CHECK(printable("a\nb") == "a\\x0ab");
    CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");
    CHECK(printable("x\xc2\x85y\xe2\x80\xaez\xe2\x80\xa9") == "x\\u0085y\\u202ez\\u2029");
    CHECK(printable("\xff\xfe") == "\\xff\\xfe");
    CHECK(quoted("") == "\"\"");
}

TEST_CASE("schema::dest_path_problem") {
    CHECK_FALSE(dest_path_problem("/usr/bin/greeter"));
    CHECK(dest_path_problem("/usr/bin/greeter/") == "must name a file, not a folder (it ends in \"/\")");
    CHECK(dest_path_problem("/") == "must not be the root folder");
    CHECK(dest_path_problem("usr/bin") == "must be an absolute path");
}

TEST_CASE("schema::emit_manifest and parse_manifest") {
    Manifest m;
    m.name = "app";
    m.version = *parse_version("1.2.3");
    m.sequence = 4;
    m.created = 1790000000;
    m.expires = 1800000000;
    m.compatible = {"app", "stable"};
    m.upgrade_from = ">=1.0.0";
    m.release_notes = "line one\nline: \"two\"\n";
    m.components = {{"app", "1.2.3"}};
    m.procedure.hooks["stop"] = {"/bin/true"};
    m.files = {{"app/binary/app", "app", "binary", 10, 0755, sha256("x"), "/usr/bin/app", ""},
               {"app/config/app.env", "app", "config", 3, 0644, sha256("y"), "/etc/app.env", "keep"}};
    m.payload.size = 100;
    m.payload.sha256 = sha256("p");
    m.payload.chunk_size = k_default_chunk_size;
    m.payload.chunks = {sha256("c")};
    const std::string text = emit_manifest(m);
    const Manifest back = parse_manifest(text, "manifest.yaml");
    CHECK(emit_manifest(back) == text);
    CHECK(back.release_notes == m.release_notes);
    CHECK(back.files[1].config_mode == "keep");
    CHECK(back.procedure.hooks.at("stop") == std::vector<std::string>{"/bin/true"});

    SUBCASE("the summary skips the file list") {
        const Manifest summary = parse_manifest_summary(text, "manifest.yaml");
        CHECK(summary.files.empty());
        REQUIRE(summary.components.size() == 1);
        CHECK(summary.components[0].files == 2);
        CHECK(summary.components[0].bytes == 13);
        CHECK(summary.payload.chunks.size() == 1);
    }
    SUBCASE("component totals that disagree with the list") {
        std::string wrong = text;
        wrong.replace(wrong.find("files: 2"), 8, "files: 3");
        CHECK_THROWS_WITH_AS(parse_manifest(wrong, "manifest.yaml"),
                             "manifest.yaml: component app declares 3 files of 13 bytes, the file list has 2 of 13", Error);
    }
    SUBCASE("what the JSON Schema refuses, the parser refuses") {
        Manifest bad = m;
        bad.sequence = 0;
        CHECK_THROWS_WITH_AS(parse_manifest(emit_manifest(bad), "m.yaml"), "m.yaml:4: sequence: must be 1 or more",
                             Error);
        bad = m;
        bad.components.clear();
        bad.files.clear();
        CHECK_THROWS_WITH_AS(parse_manifest(emit_manifest(bad), "m.yaml"),
                             doctest::Contains("components: must list at least one component"), Error);
        bad = m;
        bad.files[0].path = "app/binary2/app";
        CHECK_THROWS_WITH_AS(parse_manifest(emit_manifest(bad), "m.yaml"),
                             doctest::Contains("files[0].path: \"app/binary2/app\" must be COMPONENT/ROLE/NAME"),
                             Error);
        bad = m;
        bad.files[0].path = "app/doc/app";
        CHECK_THROWS_WITH_AS(parse_manifest(emit_manifest(bad), "m.yaml"),
                             doctest::Contains("files[0].path: \"app/doc/app\" is not below its component and role, "
                                               "\"app/binary/\""),
                             Error);
    }
    SUBCASE("min_applier_version: written only when set, read back") {
        CHECK(text.find("min_applier_version") == std::string::npos);
        CHECK_FALSE(back.min_applier_version.has_value());
        Manifest needs = m;
        needs.min_applier_version = parse_version("0.2.0");
        const std::string with = emit_manifest(needs);
        CHECK(with.find("upgrade_from: \">=1.0.0\"\nmin_applier_version: \"0.2.0\"\n") != std::string::npos);
        REQUIRE(parse_manifest(with, "m.yaml").min_applier_version.has_value());
        CHECK(parse_manifest(with, "m.yaml").min_applier_version->str() == "0.2.0");
        std::string wrong = with;
        wrong.replace(wrong.find("\"0.2.0\""), 7, "\"0.2\"");
        CHECK_THROWS_WITH_AS(parse_manifest(wrong, "m.yaml"), "m.yaml:11: min_applier_version: not a semantic version",
                             Error);
    }
    SUBCASE("the applier: at most one, with a dest") {
        Manifest two = m;
        two.files = {{"app/applier/a", "app", "applier", 10, 0755, sha256("x"), "/usr/bin/a", ""},
                     {"app/applier/b", "app", "applier", 3, 0755, sha256("y"), "/usr/bin/b", ""}};
        CHECK_THROWS_WITH_AS(parse_manifest(emit_manifest(two), "m.yaml"),
                             "m.yaml: files \"app/applier/a\" and \"app/applier/b\" are both the applier; a bundle "
                             "carries at most one",
                             Error);
        two.files.pop_back();
        two.files[0].dest.clear();
        CHECK_THROWS_WITH_AS(parse_manifest(emit_manifest(two), "m.yaml"),
                             "m.yaml: file \"app/applier/a\": the applier needs a dest", Error);
    }
    SUBCASE("files out of order") {
        Manifest reversed = m;
        std::swap(reversed.files[0], reversed.files[1]);
        const std::string swapped = emit_manifest(reversed);
        CHECK_THROWS_WITH_AS(parse_manifest(swapped, "manifest.yaml"), doctest::Contains("is out of order or listed twice"),
                             Error);
    }
    SUBCASE("a chunk list of the wrong length") {
        Manifest two = m;
        two.payload.chunks.push_back(sha256("d"));
        CHECK_THROWS_WITH_AS(parse_manifest(emit_manifest(two), "manifest.yaml"),
                             doctest::Contains("payload.chunks: lists 2 chunks, a payload of 100 bytes has 1"), Error);
    }
    SUBCASE("another format version") {
        std::string other = text;
        other.replace(other.find("ferry-bundle/1"), 14, "ferry-bundle/9");
        CHECK_THROWS_WITH_AS(parse_manifest(other, "manifest.yaml"),
                             "manifest.yaml:1: format: unsupported bundle format \"ferry-bundle/9\" (this Ferry reads ferry-bundle/1)",
                             Error);
    }
}

TEST_CASE("schema::parse_trust_store limits") {
    const std::string base = "version: 1\nthresholds: {release: 1, trust: 1}\nkeys:\n"
                             "  - {name: a, id: \"0000000000000001\", public_key: K1, expires: 2030-01-01T00:00:00Z, roles: [release, trust]}\n";
    const TrustStoreDoc defaults = parse_trust_store(base, "trust.yaml");
    CHECK(defaults.limits.files == Limits{}.files);
    const TrustStoreDoc tight = parse_trust_store(base + "limits: {files: 10, window_log: 20}\n", "trust.yaml");
    CHECK(tight.limits.files == 10);
    CHECK(tight.limits.window_log == 20);
    CHECK(tight.limits.manifest_bytes == Limits{}.manifest_bytes);
    const TrustStoreDoc again = parse_trust_store(emit_trust_store(tight), "emitted.yaml");
    CHECK(again.limits.files == 10);
    CHECK(again.limits.window_log == 20);
    CHECK(emit_trust_store(defaults).find("limits") == std::string::npos);
    CHECK_THROWS_WITH_AS(parse_trust_store(base + "limits: {path_bytes: 5000}\n", "trust.yaml"),
                         "trust.yaml:5: limits.path_bytes: must be between 1 and 1024", Error);
    CHECK_THROWS_WITH_AS(parse_trust_store(base + "limits: {filez: 3}\n", "trust.yaml"),
                         "trust.yaml:5: unknown key \"filez\" in limits (did you mean \"files\"?)", Error);

    Manifest m;
    m.components = {{"app", "1.0.0", 2, 30}};
    m.files = {{"app/doc/a", "app", "doc", 10, 0644, {}, "", ""}, {"app/doc/b", "app", "doc", 20, 0644, {}, "", ""}};
    CHECK_NOTHROW(check_limits(m, Limits{}, "manifest.yaml"));
    Limits few;
    few.files = 1;
    CHECK_THROWS_WITH_AS(check_limits(m, few, "manifest.yaml"), "manifest.yaml: lists 2 files, over the site's limit of 1", Error);
    Limits small;
    small.file_bytes = 15;
    CHECK_THROWS_WITH_AS(check_limits(m, small, "manifest.yaml"),
                         "manifest.yaml: app/doc/b is 20 bytes, over the site's limit of 15", Error);
    Limits total;
    total.total_bytes = 29;
    CHECK_THROWS_WITH_AS(check_limits(m, total, "manifest.yaml"),
                         "manifest.yaml: declares 30 bytes of files, over the site's limit of 29", Error);
}

TEST_CASE("schema::parse_trust_store") {
    const std::string good = "version: 3\nthresholds: {release: 1, trust: 1}\nkeys:\n"
                             "  - {name: a, id: \"0000000000000001\", public_key: K1, expires: 2030-01-01T00:00:00Z, roles: [release, trust]}\n";
    const TrustStoreDoc doc = parse_trust_store(good, "trust.yaml");
    CHECK(doc.keys.size() == 1);
    CHECK(doc.version == 3);
    CHECK(doc.keys[0].roles == std::vector<TrustRole>{TrustRole::release, TrustRole::trust});
    CHECK(parse_trust_store(emit_trust_store(doc), "emitted.yaml").version == 3);
    CHECK_THROWS_WITH_AS(parse_trust_store(replace(good, "release: 1,", "release: 2,"), "trust.yaml"),
                         "trust.yaml:2: thresholds.release: must be between 1 and the number of keys with the release role (1)",
                         Error);
    CHECK_THROWS_WITH_AS(parse_trust_store(replace(good, "roles: [release, trust]", "roles: [release]"), "trust.yaml"),
                         "trust.yaml:2: thresholds.trust: must be between 1 and the number of keys with the trust role (0)",
                         Error);
    CHECK_THROWS_WITH_AS(parse_trust_store(replace(good, "roles: [release, trust]", "roles: [auditor-only]"), "trust.yaml"),
                         "trust.yaml:4: keys[0].roles: unknown role \"auditor-only\"", Error);
    CHECK_THROWS_WITH_AS(parse_trust_store(replace(good, "roles: [release, trust]", "roles: [relase]"), "trust.yaml"),
                         "trust.yaml:4: keys[0].roles: unknown role \"relase\" (did you mean \"release\"?)", Error);
    CHECK_THROWS_WITH_AS(parse_trust_store(replace(good, "roles: [release, trust]", "roles: [trust, trust]"), "trust.yaml"),
                         "trust.yaml:4: keys[0].roles: role \"trust\" is listed twice", Error);
    CHECK_THROWS_WITH_AS(parse_trust_store(replace(good, ", roles: [release, trust]", ""), "trust.yaml"),
                         doctest::Contains("roles"), Error);
    CHECK_THROWS_WITH_AS(parse_trust_store(replace(good, "version: 3\n", ""), "trust.yaml"),
                         doctest::Contains("version"), Error);
    CHECK_THROWS_WITH_AS(parse_trust_store(replace(good, "version: 3", "version: 0"), "trust.yaml"),
                         "trust.yaml:1: version: must be 1 or more", Error);
    CHECK_THROWS_WITH_AS(parse_trust_store(good + "  - {name: b, id: \"0000000000000002\", public_key: K1, expires: 2030-01-01T00:00:00Z, roles: [release]}\n",
                                           "trust.yaml"),
                         "trust.yaml:5: keys[1].public_key: the same public key is listed twice (as \"b\" and an earlier entry)",
                         Error);
    CHECK_THROWS_WITH_AS(parse_trust_store(replace(good, "thresholds", "treshold"), "trust.yaml"),
                         "trust.yaml:2: unknown key \"treshold\" (did you mean \"thresholds\"?)", Error);
    CHECK_THROWS_WITH_AS(parse_trust_store(replace(good, "thresholds", "threshold"), "trust.yaml"),
                         "trust.yaml:2: unknown key \"threshold\" (did you mean \"thresholds\"?)", Error);
}

TEST_CASE("schema::parse_canonical_files") {
    Manifest m;
    m.name = "app";
    m.version = *parse_version("1.0.0");
    m.sequence = 1;
    m.compatible = {"app", "stable"};
    m.upgrade_from = ">=0.0.0";
    m.components = {{"app", "1.0.0", 0, 0}};
    m.files = {{"app/doc/a \"quoted\" back\\slash é", "app", "doc", 3, 0644, sha256("a"), "/usr/share/doc/app/a", ""},
               {"app/doc/b", "app", "doc", 4, 0600, sha256("b"), "", ""},
               {"app/config/c.env", "app", "config", 5, 0644, sha256("c"), "/etc/c.env", "merge-env"}};
    std::sort(m.files.begin(), m.files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
    m.components[0] = {"app", "1.0.0", 3, 12};
    m.payload = {100, sha256("p"), k_default_chunk_size, {sha256("c")}};
    const std::string text = emit_manifest(m);
    const std::size_t begin = text.find("\nfiles:\n") + 8;
    const std::string block = text.substr(begin, text.find("\npayload:\n") + 1 - begin);

    SUBCASE("reads what emit_manifest writes, as the full parser does") {
        const auto files = parse_canonical_files(block);
        REQUIRE(files);
        REQUIRE(files->size() == 3);
        for (std::size_t i = 0; i < 3; ++i) {
            CHECK((*files)[i].path == m.files[i].path);
            CHECK((*files)[i].dest == m.files[i].dest);
            CHECK((*files)[i].mode == m.files[i].mode);
            CHECK((*files)[i].size == m.files[i].size);
            CHECK((*files)[i].sha256 == m.files[i].sha256);
            CHECK((*files)[i].config_mode == m.files[i].config_mode);
        }
        CHECK(emit_manifest(parse_manifest(text, "manifest.yaml")) == text);
    }
    SUBCASE("declines anything else, and the full parser decides") {
        const auto changed = [&](const std::string& from, const std::string& to) {
            std::string b = block;
            b.replace(b.find(from), from.size(), to);
            return b;
        };
        CHECK_FALSE(parse_canonical_files(changed("    role: doc\n", "")));                 // a key missing
        CHECK_FALSE(parse_canonical_files(changed("    type: file\n", "    type: dir\n"))); // another type
        CHECK_FALSE(parse_canonical_files(changed("app/doc/b\"", "app/doc/\\x62\"")));      // another escape
        CHECK_FALSE(parse_canonical_files(changed("app/doc/b\"", "app/../b\"")));           // an unsafe path
        CHECK_FALSE(parse_canonical_files(changed("    size: 4\n", "    size: 4 # x\n")));  // a comment
        CHECK_FALSE(parse_canonical_files(changed("app/doc/b\"", "app/config/c.env\"")));   // listed twice
        CHECK_FALSE(parse_canonical_files(changed("    size: 4\n", "    size: 4\n    extra: 1\n")));
        // The same manifest with an escape the fast path leaves to yaml-cpp still parses.
        std::string escaped = text;
        escaped.replace(escaped.find("app/doc/b\""), 10, "app/doc/\\x62\"");
        CHECK(parse_manifest(escaped, "manifest.yaml").files[2].path == "app/doc/b");
    }
}

TEST_CASE("schema::append_trust_key") {
    TrustedKeyEntry key;
    key.name = "new";
    key.id = "00000000000000AB";
    key.public_key = "K2";
    key.expires = 1893456000; // 2030-01-01
    key.roles = {TrustRole::release, TrustRole::trust};
    const std::string entry = "- name: new\n  id: \"00000000000000AB\"\n  public_key: \"K2\"\n"
                              "  expires: 2030-01-01T00:00:00Z\n  roles: [release, trust]\n";
    SUBCASE("at the end of the list, in its indentation, the rest byte for byte") {
        const std::string before = "# site store\nversion: 3\nthresholds: {release: 1, trust: 1}\nkeys:\n"
                                   "    - {name: a, id: \"0000000000000001\", public_key: K1, expires: 2030-01-01T00:00:00Z, roles: [release, trust]}\n"
                                   "\n# the limits\nlimits: {files: 10}\n";
        const std::string after = append_trust_key(before, key, "trust.yaml");
        std::string indented;
        for (std::size_t at = 0; at < entry.size();) {
            const std::size_t end = entry.find('\n', at) + 1;
            indented += "    " + entry.substr(at, end - at);
            at = end;
        }
        CHECK(after == replace(before, "\n\n# the limits", "\n" + indented + "\n# the limits"));
        const TrustStoreDoc doc = parse_trust_store(after, "trust.yaml");
        REQUIRE(doc.keys.size() == 2);
        CHECK(doc.keys[1].id == "00000000000000AB");
        CHECK(doc.limits.files == 10);
    }
    SUBCASE("a list at the end of a file without a final newline") {
        const std::string before = "version: 1\nthresholds: {release: 1, trust: 1}\nkeys:\n"
                                   "- {name: a, id: \"0000000000000001\", public_key: K1, expires: 2030-01-01T00:00:00Z, roles: [release, trust]}";
        CHECK(append_trust_key(before, key, "trust.yaml") == before + "\n" + entry);
    }
    SUBCASE("no block list to add to") {
        CHECK_THROWS_WITH_AS((void)append_trust_key("version: 1\n", key, "t.yaml"),
                             "t.yaml: no top-level \"keys:\" list written one item a line to add the key to", Error);
        CHECK_THROWS_WITH_AS((void)append_trust_key("version: 1\nkeys: [{name: a}]\n", key, "t.yaml"),
                             "t.yaml: no top-level \"keys:\" list written one item a line to add the key to", Error);
        CHECK_THROWS_WITH_AS((void)append_trust_key("keys:\n  name: a\n", key, "t.yaml"),
                             "t.yaml: its \"keys:\" list is not written one item a line", Error);
    }
}
