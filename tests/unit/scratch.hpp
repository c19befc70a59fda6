#pragma once

// A scratch folder per test, removed afterwards unless FERRY_KEEP_SCRATCH is set.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace ferry::test {

class Scratch {
public:
    Scratch() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-unit-XXXXXX").string();
        m_path = ::mkdtemp(tmpl.data());
    }
    ~Scratch() {
        if (std::getenv("FERRY_KEEP_SCRATCH") != nullptr) {
            MESSAGE("scratch folder kept: " << m_path.string());
            return;
        }
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

    // Writes TEXT to NAME inside the folder and returns its path.
    std::filesystem::path write(const std::string& name, const std::string& text) const {
        const auto p = m_path / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p;
    }

private:
    std::filesystem::path m_path;
};

} // namespace ferry::test
