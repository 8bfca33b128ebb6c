// Fuzzes the geo table reader: whatever bytes a client maps (a corrupt
// export, a foreign file, a hostile memfd), GeoTable::from_bytes either
// refuses them with a reason or yields a table on which every lookup and
// every range walk stays inside the image. Accepted tables must also keep the
// invariants readers rely on: ranges partition the space, a looked-up prefix
// contains its address and lies inside the address's range.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/geo_table.hpp"

using namespace signpost::common;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string error;
    auto t =
        GeoTable::from_bytes(std::string_view(reinterpret_cast<const char*>(data), size), error);
    if (!t) {
        if (error.empty()) std::abort();  // a refusal always says why
        return 0;
    }
    for (Family fam : {Family::kV4, Family::kV6}) {
        const std::size_t n = t->range_count(fam);
        if (n == 0 || t->range_start(fam, 0) != 0) std::abort();
        for (std::size_t i = 0; i < n; ++i) {
            if (t->range_end(fam, i) < t->range_start(fam, i)) std::abort();
            if (i + 1 < n && t->range_end(fam, i) + 1 != t->range_start(fam, i + 1)) std::abort();
            const std::uint32_t f = t->range_fact(fam, i);
            if (is_ipv4_alias(f)) {
                // Only IPv6 has aliases, each exactly one prefix of length <= 96;
                // it indexes no fact (its facts are the IPv4 table's).
                const unsigned d = alias_offset(f);
                if (fam != Family::kV6 || d > 96) std::abort();
                if (t->range_end(fam, i) - t->range_start(fam, i) != (Uint128{1} << (128 - d)) - 1)
                    std::abort();
                const IpAddress last = address_from_value(fam, t->range_end(fam, i));
                if (!last.unmapped().is_v4() && t->lookup(last).prefix.length() < d) std::abort();
                continue;
            }
            if (f >= t->fact_count()) std::abort();
            GeoFactsView v;
            t->fill(t->fact(f), v);
            // Touch every byte the fact points at.
            volatile char sink = 0;
            for (char c : v.as_org) sink = static_cast<char>(sink ^ c);
            (void)sink;
        }
    }
    // A few addresses, including each family's ends and some range starts.
    std::vector<IpAddress> probes;
    for (const char* s : {"0.0.0.0", "255.255.255.255", "10.1.2.3", "::", "::1", "2001:db8::1",
                          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:81.2.69.142"})
        probes.push_back(*IpAddress::parse(s));
    for (Family fam : {Family::kV4, Family::kV6})
        for (std::size_t i = 0; i < t->range_count(fam) && i < 64; ++i)
            probes.push_back(address_from_value(fam, t->range_start(fam, i)));
    for (const IpAddress& a : probes) {
        const GeoFactsView f = t->lookup(a);
        const IpAddress u = a.unmapped();
        if (!f.prefix.contains(u)) std::abort();
        const std::size_t r = t->find_range(u);
        const Uint128 first = address_value(f.prefix.address());
        const unsigned host = u.bits() - f.prefix.length();
        const Uint128 last = first | (host == 128 ? ~Uint128{0} : (Uint128{1} << host) - 1);
        if (first < t->range_start(u.family(), r) || last > t->range_end(u.family(), r))
            std::abort();
    }
    (void)t->describe_json();
    return 0;
}
