#include "core/error.hpp"
#include "manifest-schema/strict_yaml.hpp"
#include "manifest-schema/yaml_fields.hpp"

#include <doctest/doctest.h>

using namespace ferry;
using namespace ferry::schema;

namespace {

void check(const std::string& text) {
    check_strict_yaml(text, "m.yaml", ErrorKind::verification, {"size", "sequence"});
}

} // namespace

TEST_CASE("schema::check_strict_yaml") {
    CHECK_NOTHROW(check("name: app\nsequence: 12\nlist: [a, \"0644\", '1.5']\nmap: {size: 0, t: 2026-01-01T00:00:00Z}\n"
                        "tagged: ! text\n"));
    CHECK_THROWS_WITH_AS(check("name: app\nsize: !!binary aGVsbG8=\n"),
                         "m.yaml:2: YAML tags (\"tag:yaml.org,2002:binary\") are not allowed in a manifest", Error);
    CHECK_THROWS_WITH_AS(check("name: !x app\n"), "m.yaml:1: YAML tags (\"!x\") are not allowed in a manifest", Error);
    CHECK_THROWS_WITH_AS(check("name: app\n---\nname: evil\n"),
                         "m.yaml:2: YAML document markers (---) are not allowed in a manifest", Error);
    CHECK_THROWS_WITH_AS(check("%YAML 1.1\nname: app\n"),
                         "m.yaml:1: YAML directives (\"%YAML 1.1\") are not allowed in a manifest", Error);
    CHECK_THROWS_WITH_AS(check("a: &x app\nb: *x\n"), "m.yaml:1: YAML anchors (&x) are not allowed in a manifest",
                         Error);
    CHECK_THROWS_WITH_AS(check("a: {<<: {b: c}}\n"), "m.yaml:1: YAML merge keys (<<) are not allowed in a manifest",
                         Error);
    CHECK_THROWS_WITH_AS(check("size: 0644\n"),
                         "m.yaml:1: size: expected a decimal integer without quotes or leading zeros, got 0644 "
                         "(YAML 1.1 readers take it for octal)",
                         Error);
    CHECK_THROWS_WITH_AS(check("size: \"12\"\n"),
                         "m.yaml:1: size: expected a decimal integer without quotes or leading zeros, got \"12\"",
                         Error);
    CHECK_THROWS_WITH_AS(check("name: 123\n"), "m.yaml:1: name: the number 123 where text is expected: quote it",
                         Error);
    CHECK_THROWS_WITH_AS(check("channel: yes\n"),
                         "m.yaml:1: channel: \"yes\" unquoted is read as a boolean, null or number by some YAML "
                         "readers: quote it",
                         Error);
    CHECK_THROWS_WITH_AS(check("release_notes:\n"),
                         "m.yaml:1: release_notes: an empty or null value is not allowed (write \"\" for empty text, "
                         "[] for an empty list)",
                         Error);
    CHECK_THROWS_WITH_AS(check("a: \"x\xe2\x80\xa8y\"\n"),
                         "m.yaml:1: a raw line break U+0085, U+2028 or U+2029, which YAML readers disagree on: write "
                         "it escaped in double quotes (\\N, \\L, \\P)",
                         Error);
    CHECK_THROWS_WITH_AS(check("a: " + std::string(20, '[') + std::string(20, ']') + "\n"),
                         "m.yaml:1: YAML nested more than 16 levels deep, the limit of a manifest (which needs 5)",
                         Error);
}

TEST_CASE("schema::check_strict_yaml: the value limit") {
    std::string list = "list: [";
    for (std::size_t i = 0; i < k_max_manifest_values - 4; ++i) {
        list += "a,";
    }
    CHECK_NOTHROW(check(list + "a]\n")); // the root mapping, the key, the list and its items: the limit
    CHECK_THROWS_WITH_AS(check(list + "a,a]\n"),
                         "m.yaml:1: the manifest's YAML holds more than 200000 values, the limit that bounds a "
                         "reader's memory",
                         Error);
}

TEST_CASE("schema::plain_is_ambiguous") {
    for (const char* text : {"yes", "No", "on", "OFF", "~", "null", "", "0644", "0x1f", "0o17", "0b101", "1_000",
                             "1:30", "1.5", "1e3", ".5", "-1", "+1", ".inf", "-.inf", ".NaN", "2026-01-01", "<<"}) {
        CAPTURE(text);
        CHECK(plain_is_ambiguous(text));
    }
    for (const char* text : {"app", "greeter-2", "yesno", "0b3f", "0bz", "3f2a9c", "2026-01-01T00:00:00Z", "v1.5",
                             "/bin/true", "ferry-bundle/1"}) {
        CAPTURE(text);
        CHECK_FALSE(plain_is_ambiguous(text));
    }
    CHECK(is_canonical_integer("0"));
    CHECK(is_canonical_integer("420"));
    CHECK_FALSE(is_canonical_integer("0644"));
    CHECK_FALSE(is_canonical_integer("+1"));
}

TEST_CASE("schema::load_yaml: too deep") {
    CHECK_THROWS_WITH_AS(
        (void)load_yaml("a: " + std::string(3000, '[') + std::string(3000, ']') + "\n", "spec.yaml", ErrorKind::input),
        "spec.yaml:1: YAML nested more than 2000 levels deep, the YAML reader's limit", Error);
}
