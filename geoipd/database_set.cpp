#include "geoipd/database_set.hpp"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include "common/json.hpp"

namespace signpost::geoipd {

namespace json = common::json;

namespace {

void release_compile_memory(const std::vector<std::shared_ptr<const Database>>& dbs) {
    ::malloc_trim(0);
    const long page = ::sysconf(_SC_PAGESIZE);
    for (const auto& db : dbs) {
        const MMDB_s& m = db->mmdb();
        const auto addr = reinterpret_cast<std::uintptr_t>(m.file_content);
        if (!m.file_content || m.file_size <= 0 || page <= 0 || addr % page != 0) continue;
        ::madvise(const_cast<std::uint8_t*>(m.file_content), static_cast<std::size_t>(m.file_size),
                  MADV_DONTNEED);
    }
}

}  // namespace

std::shared_ptr<const DatabaseSet> DatabaseSet::build(
    std::vector<std::shared_ptr<const Database>> dbs, std::uint64_t generation, std::string& error,
    CompileStats* stats) {
    int fd = -1;
    {
        const std::string image = compile_table(dbs, generation, error, stats);
        if (image.empty()) return nullptr;
        fd = common::write_sealed_memfd(image, error);
    }
    // The compile's temporaries (leaf lists, record maps, the builder, the
    // image) are freed by now, but malloc keeps most of them: give the free
    // pages back. And the walk read every page of every database file; from
    // here on only the table answers lookups (`info` reads metadata, which
    // libmaxminddb copied out at open), so drop those pages from this
    // process (they fault back in from the file if anything reads them).
    release_compile_memory(dbs);
    if (fd < 0) return nullptr;
    auto table = common::GeoTable::map_fd(fd, true, error);
    if (!table) {
        error = "the compiled geo table does not validate: " + error;
        return nullptr;
    }
    return std::make_shared<const DatabaseSet>(std::move(dbs), generation, std::move(table));
}

DatabaseSet::DatabaseSet(std::vector<std::shared_ptr<const Database>> dbs, std::uint64_t generation,
                         std::shared_ptr<const common::GeoTable> table)
    : dbs_(std::move(dbs)), generation_(generation), table_(std::move(table)) {}

common::GeoFactsView DatabaseSet::lookup(const common::IpAddress& addr) const {
    common::GeoFactsView f = table_->lookup(addr);
    f.generation = generation_;
    return f;
}

void DatabaseSet::append_info_json(std::string& out) const {
    out.append("{\"generation\":");
    json::append_uint(out, generation_);
    out.append(",\"databases\":[");
    bool first = true;
    for (const auto& db : dbs_) {
        if (!first) out.push_back(',');
        first = false;
        out.append("{\"file\":");
        json::append_string(out, db->path());
        out.append(",\"type\":");
        json::append_string(out, db->database_type());
        out.append(",\"kind\":");
        json::append_string(out, db->schema().kind());
        out.append(",\"build_epoch\":");
        json::append_uint(out, db->build_epoch());
        out.append(",\"ip_version\":");
        json::append_uint(out, db->ip_version());
        out.append(",\"node_count\":");
        json::append_uint(out, db->node_count());
        out.append(",\"data_records\":");
        json::append_uint(out, db->data_records());
        out.append(",\"loaded_at\":");
        json::append_uint(out, static_cast<std::uint64_t>(db->loaded_at()));
        out.append(",\"fields\":{");
        bool ffirst = true;
        for (std::size_t i = 0; i < kFieldCount; ++i) {
            const auto& p = db->schema()[static_cast<Field>(i)];
            if (!p) continue;
            if (!ffirst) out.push_back(',');
            ffirst = false;
            json::append_string(out, field_name(static_cast<Field>(i)));
            out.push_back(':');
            json::append_string(out, p->dotted());
        }
        out.append("}}");
    }
    out.append("],\"table\":");
    out.append(table_->describe_json());
    out.append("}\n");
}

}  // namespace signpost::geoipd
