// Dumps every network of a .mmdb with its country (and continent, derived
// when the database has none), one "prefix<TAB>country<TAB>continent" line
// each, by walking the search tree. Used to convert the CC0 country database
// to the GeoIP2 layout gdnsd reads, so both servers see the same data.
//   mmdb_dump FILE.mmdb > networks.tsv

#include <maxminddb.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "common/country_continent.hpp"
#include "common/ip_address.hpp"

using signpost::common::Family;
using signpost::common::IpAddress;

namespace {
MMDB_s mmdb;
const char* const kCountry[] = {"country", "iso_code", nullptr};
const char* const kFlat[] = {"country_code", nullptr};
std::size_t printed = 0;

void emit(const std::uint8_t* bits, unsigned depth, MMDB_entry_s entry) {
    MMDB_entry_data_s d;
    std::string cc;
    if ((MMDB_aget_value(&entry, &d, kCountry) == MMDB_SUCCESS && d.has_data) ||
        (MMDB_aget_value(&entry, &d, kFlat) == MMDB_SUCCESS && d.has_data))
        if (d.type == MMDB_DATA_TYPE_UTF8_STRING) cc.assign(d.utf8_string, d.data_size);
    if (cc.size() != 2) return;
    const auto cont = signpost::common::continent_of_country(cc);
    // IPv4 lives at ::/96 in an IPv6 tree: print it as IPv4.
    bool v4 = mmdb.metadata.ip_version == 4;
    unsigned len = depth;
    IpAddress a;
    if (!v4 && depth >= 96 && std::all_of(bits, bits + 12, [](std::uint8_t b) { return b == 0; })) {
        v4 = true;
        len = depth - 96;
        a = IpAddress::from_bytes(Family::kV4, bits + 12);
    } else {
        a = IpAddress::from_bytes(v4 ? Family::kV4 : Family::kV6, bits);
    }
    std::printf("%s/%u\t%s\t%.*s\n", a.to_string().c_str(), len, cc.c_str(),
                static_cast<int>(cont.size()), cont.data());
    ++printed;
}

void walk(std::uint32_t node, unsigned depth, std::uint8_t* bits) {
    // Aliases of the IPv4 subtree (::ffff:0:0/96, 2001::/32, 2002::/16) would
    // print IPv4 networks again under IPv6 names: skip them.
    if (mmdb.metadata.ip_version == 6) {
        if (depth == 16 && bits[0] == 0x20 && bits[1] == 0x02) return;
        if (depth == 32 && bits[0] == 0x20 && bits[1] == 0x01 && bits[2] == 0 && bits[3] == 0)
            return;
        if (depth == 96 && bits[10] == 0xff && bits[11] == 0xff &&
            std::all_of(bits, bits + 10, [](std::uint8_t b) { return b == 0; }))
            return;
    }
    MMDB_search_node_s n;
    if (MMDB_read_node(&mmdb, node, &n) != MMDB_SUCCESS) return;
    for (int side = 0; side < 2; ++side) {
        if (side) bits[depth / 8] |= static_cast<std::uint8_t>(0x80 >> (depth % 8));
        const auto type = side ? n.right_record_type : n.left_record_type;
        const auto rec = side ? n.right_record : n.left_record;
        if (type == MMDB_RECORD_TYPE_SEARCH_NODE)
            walk(static_cast<std::uint32_t>(rec), depth + 1, bits);
        else if (type == MMDB_RECORD_TYPE_DATA)
            emit(bits, depth + 1, side ? n.right_record_entry : n.left_record_entry);
        if (side) bits[depth / 8] &= static_cast<std::uint8_t>(~(0x80 >> (depth % 8)));
    }
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 || MMDB_open(argv[1], MMDB_MODE_MMAP, &mmdb) != MMDB_SUCCESS) {
        std::fprintf(stderr, "usage: mmdb_dump FILE.mmdb (a readable MaxMind DB)\n");
        return 2;
    }
    std::uint8_t bits[16] = {};
    walk(0, 0, bits);
    std::fprintf(stderr, "mmdb_dump: %zu networks\n", printed);
    MMDB_close(&mmdb);
    return 0;
}
