// Fuzz target: schema::parse_spec, the bundle spec a release engineer writes.
//
// Beyond "no crash, only ferry::Error", an accepted spec must satisfy what the bundler relies
// on without checking again: valid names, known roles, modes without special bits, safe dests.

#include "fuzz.hpp"

#include "manifest-schema/spec.hpp"


#include <algorithm>

namespace {

using namespace ferry;

void check_spec(const schema::BundleSpec& spec) {
    fuzz::check(schema::valid_name(spec.name), "accepted spec has an invalid name");
    fuzz::check(spec.sequence >= 1, "accepted spec has sequence 0");
    fuzz::check(spec.expires.has_value() != spec.expires_in_days.has_value(),
                "accepted spec has both or neither of expires and expires_in_days");
    fuzz::check(!spec.components.empty(), "accepted spec has no component");
    for (const auto& c : spec.components) {
        fuzz::check(schema::valid_name(c.name), "accepted spec has an invalid component name");
        fuzz::check(!c.files.empty(), "accepted spec has a component without files");
        for (const auto& f : c.files) {
            fuzz::check(std::find(schema::k_roles.begin(), schema::k_roles.end(), f.role) !=
                            schema::k_roles.end(),
                        "accepted spec has an unknown role");
            fuzz::check(f.mode <= 0777, "accepted spec has a mode with special bits");
            fuzz::check((f.role == "config") == !f.config_mode.empty(),
                        "accepted spec has a config_mode on a non-config file, or none on a config");
            if (f.dest) {
                fuzz::check(!f.dest->empty(), "accepted spec has an empty dest");
                std::string_view dest = *f.dest;
                if (dest.size() > 1 && dest.back() == '/') {
                    dest.remove_suffix(1);
                }
                fuzz::check(!schema::dest_path_problem(dest), "accepted spec has an unsafe dest");
            } else {
                fuzz::check(f.role != "binary" && f.role != "config" && f.role != "doc" && f.role != "applier",
                            "accepted spec has a binary, config, doc or applier file without dest");
            }
        }
    }
}

} // namespace

FERRY_FUZZ_TARGET(spec) {
    const std::string_view text = ferry::fuzz::as_text(data, size);
    ferry::fuzz::expect_errors([&] { check_spec(ferry::schema::parse_spec(text, "spec.yaml")); });
    return 0;
}
