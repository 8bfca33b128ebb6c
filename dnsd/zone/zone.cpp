#include "dnsd/zone/zone.hpp"

#include <unordered_map>

#include "common/hash.hpp"
#include "dnsd/zone/dynamic_answer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace signpost::dnsd {
inline namespace zone {

void Zone::seal() {
    if (sealed) return;
    sealed = true;
    std::vector<std::pair<std::string_view, const Node*>> items;
    items.reserve(nodes.size());
    content_hash = 0;
    dynamic_hash = 0;
    for (const auto& [name, n] : nodes) {
        items.emplace_back(name, &n);
        // Order-independent: a sum of each record's hash (owner, type, TTL, rdata).
        const std::uint64_t owner = common::fnv1a(name);
        if (n.dynamic) {
            const std::uint64_t h = common::mix64(owner ^ n.dynamic->transfer_hash());
            content_hash += h;
            dynamic_hash += h;
        }
        for (const auto& rs : n.rrsets)
            for (const auto& rec : rs.records) {
                std::string_view rdata(reinterpret_cast<const char*>(rec.rdata.data()),
                                       rec.rdata.size());
                std::string masked;
                if (rs.type == type::SOA && rdata.size() >= 20) {
                    // Not the serial: it says that the content changed, it is not content.
                    masked.assign(rdata);
                    std::fill_n(masked.end() - 20, 4, '\0');
                    rdata = masked;
                }
                content_hash +=
                    common::mix64(owner ^ common::mix64((std::uint64_t{rs.type} << 32) | rs.ttl) ^
                                  common::fnv1a(rdata));
            }
    }
    index.build(items);
}

bool NameBuf::set(const std::uint8_t* name) {
    std::size_t out = 0;
    std::uint8_t labels = 0;
    for (const std::uint8_t* s = name;; s += *s + 1) {
        const std::uint8_t len = *s;
        if (len == 0) break;
        if (len > kMaxLabelLen || out + len + 2 > kMaxNameLen) return false;
        offset[labels++] = static_cast<std::uint8_t>(out);
        wire[out++] = len;
        for (std::size_t i = 1; i <= len; ++i) {
            std::uint8_t c = s[i];
            wire[out++] = (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + 32) : c;
        }
    }
    offset[labels] = static_cast<std::uint8_t>(out);
    wire[out++] = 0;
    ref.wire = wire;
    ref.len = static_cast<std::uint8_t>(out);
    ref.labels = labels;
    ref.offset = offset;
    return true;
}

LookupResult lookup(const Zone& zone, const NameRef& name, bool ds_at_cut) {
    LookupResult r;
    if (!zone.apex) return r;  // a secondary without a copy: no name exists
    // name.suffix(k) strips k labels; the apex is suffix(name.labels - zone labels).
    const unsigned below = name.labels - zone.origin_labels;
    const Node* encloser = zone.apex;
    for (int k = static_cast<int>(below) - 1; k >= 0; --k) {
        const Node* n = zone.node(name.suffix(static_cast<unsigned>(k)));
        if (!n) {
            // `encloser` is the closest encloser: try its wildcard.
            if (encloser->wildcard_child) {
                std::uint8_t key[kMaxNameLen + 2];
                const auto enc = name.suffix(static_cast<unsigned>(k) + 1);
                key[0] = 1;
                key[1] = '*';
                std::memcpy(key + 2, enc.data(), enc.size());
                const Node* w =
                    zone.node(std::string_view(reinterpret_cast<char*>(key), enc.size() + 2));
                if (w) {
                    r.kind = LookupKind::kAnswer;
                    r.node = w;
                    r.wildcard = true;
                    return r;
                }
            }
            r.kind = LookupKind::kNxDomain;
            return r;
        }
        if (n->delegation && !(k == 0 && ds_at_cut)) {
            r.kind = LookupKind::kReferral;
            r.node = n;
            r.cut_name = name.suffix(static_cast<unsigned>(k));
            return r;
        }
        encloser = n;
    }
    r.kind = LookupKind::kAnswer;
    r.node = encloser;
    return r;
}

void set_serial(Zone& z, std::uint32_t serial) {
    auto it = z.nodes.find(z.origin);
    if (it == z.nodes.end()) return;
    for (auto& rs : it->second.rrsets) {
        if (rs.type != type::SOA || rs.records.empty() || rs.records.front().rdata.size() < 20)
            continue;
        auto& rdata = rs.records.front().rdata;
        std::uint8_t* p = rdata.data() + rdata.size() - 20;
        for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(serial >> (24 - 8 * i));
        z.serial = serial;
    }
}

void record_history(Zone& next, const Zone& prev, std::size_t max_versions,
                    std::size_t max_changes) {
    next.history.clear();
    // The same version again (a reload of other files): its history stays.
    if (next.serial == prev.serial && next.content_hash == prev.content_hash) {
        next.history = prev.history;
        return;
    }
    // RFC 1982: next must be a later serial; and only static records differ.
    if (static_cast<std::int32_t>(next.serial - prev.serial) <= 0 ||
        next.dynamic_hash != prev.dynamic_hash || !next.soa || !prev.soa)
        return;
    // Every record as a key: owner, type, TTL, rdata (the apex SOA aside).
    auto key = [](std::string_view owner, std::uint16_t type, std::uint32_t ttl, const Record& r) {
        std::string k(owner);
        k.push_back(static_cast<char>(type >> 8));
        k.push_back(static_cast<char>(type));
        for (int s = 24; s >= 0; s -= 8) k.push_back(static_cast<char>(ttl >> s));
        k.append(reinterpret_cast<const char*>(r.rdata.data()), r.rdata.size());
        return k;
    };
    auto records = [&](const Zone& z) {
        std::unordered_map<std::string, std::pair<ZoneDiff::Change, int>> m;
        for (const auto& [name, n] : z.nodes)
            for (const auto& rs : n.rrsets) {
                if (rs.type == type::SOA && name == z.origin) continue;
                for (const auto& rec : rs.records) {
                    auto& e = m[key(name, rs.type, rs.ttl, rec)];
                    if (e.second++ == 0) e.first = ZoneDiff::Change{name, rs.type, rs.ttl, rec};
                }
            }
        return m;
    };
    const auto before = records(prev), after = records(next);
    auto diff = std::make_shared<ZoneDiff>();
    diff->from_serial = prev.serial;
    diff->to_serial = next.serial;
    diff->from_soa = *prev.soa;
    diff->to_soa = *next.soa;
    for (const auto& [k, v] : before)
        if (!after.count(k)) diff->deleted.push_back(v.first);
    for (const auto& [k, v] : after)
        if (!before.count(k)) diff->added.push_back(v.first);
    if (diff->deleted.size() + diff->added.size() > max_changes) return;
    // The previous history continues only if it ends where this step begins.
    if (!prev.history.empty() && prev.history.back()->to_serial == prev.serial)
        next.history = prev.history;
    next.history.push_back(std::move(diff));
    while (next.history.size() > max_versions) next.history.erase(next.history.begin());
}

void ZoneSet::add(std::shared_ptr<Zone> z) {
    z->seal();
    min_labels_ = std::min(min_labels_, z->origin_labels);
    max_labels_ = std::max(max_labels_, z->origin_labels);
    list_.push_back(std::move(z));
    std::vector<std::pair<std::string_view, const Zone*>> items;
    for (const auto& l : list_) items.emplace_back(l->origin, l.get());
    index_.build(items);
}

const Zone* ZoneSet::find(const NameRef& name) const {
    if (list_.empty() || name.labels < min_labels_) return nullptr;
    // Longest origin first: strip as few labels as the deepest zone allows.
    const unsigned first = name.labels > max_labels_ ? name.labels - max_labels_ : 0;
    for (unsigned k = first; k + min_labels_ <= name.labels; ++k)
        if (const auto* z = index_.find(name.suffix(k))) return *z;
    return nullptr;
}

std::string name_to_text(const std::uint8_t* wire) {
    std::string out;
    for (const std::uint8_t* s = wire; *s != 0; s += *s + 1) {
        for (std::size_t i = 1; i <= *s; ++i) {
            const unsigned char c = s[i];
            if (c == '.' || c == '\\') {
                out.push_back('\\');
                out.push_back(static_cast<char>(c));
            } else if (c < 0x21 || c > 0x7e) {
                char buf[5];
                std::snprintf(buf, sizeof buf, "\\%03u", c);
                out += buf;
            } else {
                out.push_back(static_cast<char>(c));
            }
        }
        out.push_back('.');
    }
    return out.empty() ? "." : out;
}

}  // namespace zone
}  // namespace signpost::dnsd
