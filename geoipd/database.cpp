#include "geoipd/database.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <unordered_set>

namespace signpost::geoipd {

namespace {
// Records decoded to detect the schema. A file's first records can be odd
// (reserved ranges, a lone ASN), so look at a few hundred.
constexpr std::size_t kSchemaSamples = 512;

bool value_matches(const MMDB_entry_data_s& d, ValueKind kind) {
    if (!d.has_data) return false;
    switch (kind) {
        case ValueKind::kString:
            return d.type == MMDB_DATA_TYPE_UTF8_STRING;
        case ValueKind::kUnsigned:
            return d.type == MMDB_DATA_TYPE_UINT16 || d.type == MMDB_DATA_TYPE_UINT32 ||
                   d.type == MMDB_DATA_TYPE_UINT64 || d.type == MMDB_DATA_TYPE_INT32;
        case ValueKind::kDouble:
            return d.type == MMDB_DATA_TYPE_DOUBLE || d.type == MMDB_DATA_TYPE_FLOAT;
    }
    return false;
}

// An unsigned field's value (value_matches said it is one); a negative INT32
// or a UINT64 beyond 32 bits is not a usable ASN or radius: 0, unknown.
std::uint32_t unsigned_value(const MMDB_entry_data_s& d) {
    switch (d.type) {
        case MMDB_DATA_TYPE_UINT16:
            return d.uint16;
        case MMDB_DATA_TYPE_UINT32:
            return d.uint32;
        case MMDB_DATA_TYPE_UINT64:
            return d.uint64 > 0xffffffffu ? 0 : static_cast<std::uint32_t>(d.uint64);
        case MMDB_DATA_TYPE_INT32:
            return d.int32 < 0 ? 0 : static_cast<std::uint32_t>(d.int32);
        default:
            return 0;
    }
}
}  // namespace

std::unique_ptr<Database> Database::open(const DatabaseSpec& spec, std::string& error) {
    std::unique_ptr<Database> db(new Database());
    db->path_ = spec.path;
    db->identity_ = common::FileWatcher::identify(spec.path);
    int status = MMDB_open(spec.path.c_str(), MMDB_MODE_MMAP, &db->mmdb_);
    if (status != MMDB_SUCCESS) {
        error = spec.path + ": cannot open: " + MMDB_strerror(status);
        if (status == MMDB_IO_ERROR) error += std::string(" (") + std::strerror(errno) + ")";
        return nullptr;
    }
    db->opened_ = true;
    db->loaded_at_ = std::time(nullptr);
    if (!db->validate(error)) return nullptr;
    db->detect_schema(spec);
    if (db->schema_.empty()) {
        error = spec.path + ": none of the known fields found in " +
                std::to_string(db->samples_.size()) +
                " records; name them with --db FILE,country=PATH,asn=PATH";
        return nullptr;
    }
    return db;
}

Database::~Database() {
    if (opened_) MMDB_close(&mmdb_);
}

bool Database::validate(std::string& error) {
    const auto& md = mmdb_.metadata;
    if (md.node_count == 0 || (md.ip_version != 4 && md.ip_version != 6) ||
        (md.record_size != 24 && md.record_size != 28 && md.record_size != 32)) {
        error = path_ + ": implausible metadata (node_count " + std::to_string(md.node_count) +
                ", ip_version " + std::to_string(md.ip_version) + ", record_size " +
                std::to_string(md.record_size) + ")";
        return false;
    }
    // Every node's two records must be a node, empty, or a decodable data record.
    // Nodes are read in order, not walked: aliased subtrees (::ffff:0:0/96 ->
    // ::/96) would otherwise be visited several times.
    std::unordered_set<std::uint32_t> seen_data;
    for (std::uint32_t n = 0; n < md.node_count; ++n) {
        MMDB_search_node_s node;
        int s = MMDB_read_node(&mmdb_, n, &node);
        if (s != MMDB_SUCCESS || node.left_record_type == MMDB_RECORD_TYPE_INVALID ||
            node.right_record_type == MMDB_RECORD_TYPE_INVALID) {
            error = path_ + ": corrupt search tree at node " + std::to_string(n) + " of " +
                    std::to_string(md.node_count) +
                    (s != MMDB_SUCCESS ? std::string(": ") + MMDB_strerror(s) : std::string());
            return false;
        }
        for (const MMDB_entry_s* e : {&node.left_record_entry, &node.right_record_entry}) {
            const bool is_data =
                (e == &node.left_record_entry ? node.left_record_type : node.right_record_type) ==
                MMDB_RECORD_TYPE_DATA;
            if (!is_data || !seen_data.insert(e->offset).second) continue;
            MMDB_entry_data_list_s* list = nullptr;
            int ds = MMDB_get_entry_data_list(const_cast<MMDB_entry_s*>(e), &list);
            MMDB_free_entry_data_list(list);
            if (ds != MMDB_SUCCESS) {
                error = path_ + ": corrupt data record at offset " + std::to_string(e->offset) +
                        ": " + MMDB_strerror(ds);
                return false;
            }
            if (samples_.size() < kSchemaSamples) samples_.push_back(*e);
        }
    }
    data_records_ = seen_data.size();
    return true;
}

void Database::detect_schema(const DatabaseSpec& spec) {
    for (std::size_t i = 0; i < kFieldCount; ++i) {
        const Field f = static_cast<Field>(i);
        std::optional<FieldPath> chosen;
        for (const auto& [of, path] : spec.overrides)
            if (of == f) chosen = path;
        if (!chosen) {
            for (const auto& dotted : default_candidates(f)) {
                auto path = FieldPath::parse(dotted);
                bool present = false;
                for (auto entry : samples_) {
                    MMDB_entry_data_s d;
                    if (MMDB_aget_value(&entry, &d, path->c_path()) == MMDB_SUCCESS &&
                        value_matches(d, value_kind(f))) {
                        present = true;
                        break;
                    }
                }
                if (present) {
                    chosen = path;
                    break;
                }
            }
        }
        schema_[f] = chosen;
    }
}

bool Database::read_string(const MMDB_entry_s& entry, Field f, std::string_view& out) const {
    const auto& path = schema_[f];
    if (!path) return false;
    MMDB_entry_s e = entry;
    MMDB_entry_data_s d;
    if (MMDB_aget_value(&e, &d, path->c_path()) != MMDB_SUCCESS ||
        !value_matches(d, ValueKind::kString))
        return false;
    out = std::string_view(d.utf8_string, d.data_size);
    return true;
}

DatabaseHit Database::lookup(const common::IpAddress& addr) const {
    DatabaseHit hit;
    sockaddr_storage ss;
    addr.to_sockaddr(&ss);
    int err = MMDB_SUCCESS;
    MMDB_lookup_result_s r =
        MMDB_lookup_sockaddr(&mmdb_, reinterpret_cast<const sockaddr*>(&ss), &err);
    if (err == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) {
        return hit;  // an IPv4-only file knows nothing of all IPv6: ::/0, not found
    }
    if (err != MMDB_SUCCESS) return hit;
    // For an IPv4 address in an IPv6 tree, libmaxminddb counts the netmask from
    // the IPv6 root, where IPv4 lives at ::/96.
    int len = r.netmask;
    if (addr.is_v4() && mmdb_.metadata.ip_version == 6) len -= 96;
    hit.prefix_len = len < 0 ? 0 : static_cast<unsigned>(len);
    if (hit.prefix_len > addr.bits()) hit.prefix_len = addr.bits();
    if (!r.found_entry) return hit;
    const unsigned prefix_len = hit.prefix_len;
    hit = decode(r.entry);
    hit.prefix_len = prefix_len;
    return hit;
}

DatabaseHit Database::decode(const MMDB_entry_s& entry) const {
    DatabaseHit hit;
    hit.found = true;
    MMDB_entry_s e = entry;
    read_string(e, Field::kCountry, hit.country);
    read_string(e, Field::kContinent, hit.continent);
    read_string(e, Field::kAsOrg, hit.as_org);
    MMDB_entry_data_s d;
    if (const auto& p = schema_[Field::kAsn];
        p && MMDB_aget_value(&e, &d, p->c_path()) == MMDB_SUCCESS &&
        value_matches(d, ValueKind::kUnsigned)) {
        hit.asn = unsigned_value(d);
    }
    double coord[2];
    bool have[2] = {false, false};
    for (int i = 0; i < 2; ++i) {
        const auto& p = schema_[i == 0 ? Field::kLatitude : Field::kLongitude];
        if (p && MMDB_aget_value(&e, &d, p->c_path()) == MMDB_SUCCESS &&
            value_matches(d, ValueKind::kDouble)) {
            coord[i] = d.type == MMDB_DATA_TYPE_DOUBLE ? d.double_value : d.float_value;
            have[i] = true;
        }
    }
    if (have[0] && have[1]) {
        hit.has_location = true;
        hit.latitude = coord[0];
        hit.longitude = coord[1];
        if (const auto& p = schema_[Field::kAccuracy];
            p && MMDB_aget_value(&e, &d, p->c_path()) == MMDB_SUCCESS &&
            value_matches(d, ValueKind::kUnsigned)) {
            hit.accuracy_radius = unsigned_value(d);
        }
    }
    return hit;
}

}  // namespace signpost::geoipd
