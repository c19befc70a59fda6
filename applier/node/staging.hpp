#pragma once

// Staging: the payload's files written into a private folder as they are verified.

#include "core/payload.hpp"
#include "core/handles.hpp"

#include <filesystem>
#include <map>
#include <string>

namespace ferry::applier {

// Writes each verified payload file under DIR (created 0700, must not exist). The payload
// reader checks each file's hash before end_file returns; the caller makes the whole staging
// durable at once (sync_filesystem) before it records staging as done.
class StagingSink : public PayloadSink {
public:
    explicit StagingSink(std::filesystem::path dir);

    void begin_file(const ExpectedFile& file) override;
    void data(const void* bytes, std::size_t size) override;
    void end_file() override;

    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }

private:
    std::filesystem::path m_dir;
    std::filesystem::path m_current;
    Fd m_fd;
};

// Keeps the content of files with the given payload paths in memory (for plan's diffs).
class CaptureSink : public PayloadSink {
public:
    explicit CaptureSink(std::map<std::string, std::string>& out) : m_out(out) {}
    void begin_file(const ExpectedFile& file) override;
    void data(const void* bytes, std::size_t size) override;
    void end_file() override {}

private:
    std::map<std::string, std::string>& m_out;
    std::string* m_current = nullptr;
};

} // namespace ferry::applier
