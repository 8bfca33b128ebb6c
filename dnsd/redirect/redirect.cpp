#include "dnsd/redirect/redirect.hpp"

#include <cstring>

#include "common/hash.hpp"
#include "dnsd/redirect/decisions.hpp"
#include "dnsd/redirect/health_view.hpp"
#include "dnsd/stats/worker_stats.hpp"

namespace signpost::dnsd {
inline namespace redirect {

ClientKey client_key(const Query& q, const common::IpAddress& source) {
    ClientKey k;
    if (q.ecs.present && q.ecs.source_len > 0) {
        k.address = q.ecs.address;
        k.source_len = q.ecs.source_len;
        k.from_ecs = true;
    } else {
        k.address = source.unmapped();
        k.source_len = k.address.bits();
    }
    return k;
}

unsigned RedirectAnswer::answer(DynamicContext& ctx, std::uint16_t qtype, const Owner& owner,
                                Writer& w) const {
    if (qtype != type::A && qtype != type::AAAA) return 0;  // NODATA for other types
    const auto family = qtype == type::A ? common::Family::kV4 : common::Family::kV6;
    const ClientKey key = client_key(ctx.query, ctx.source);
    const CompiledMap* compiled =
        ctx.env.decisions ? &ctx.env.decisions->maps[map_index_] : nullptr;
    static const HealthView kAllUp;
    // Health applies only if it was computed for this very node set.
    const HealthView& hv = ctx.env.health && ctx.env.health->edges.get() == edges_.get()
                               ? ctx.env.health->view
                               : kAllUp;
    const Decision d = decide(
        *edges_, config(), compiled, family, key, hv, ctx.env.round_robin++,
        ctx.env.hits && ctx.env.hits[map_index_].chain ? &ctx.env.hits[map_index_] : nullptr);
    if (d.tier == Tier::kFallback) bump(ctx.stats.redirect_fallback);
    if (d.tier == Tier::kFailOpen) bump(ctx.stats.redirect_fail_open);
    bump(ctx.stats.redirect_answers);
    if (ctx.stats.samples) ctx.stats.samples->push(key.address);
    if (std::atomic<std::uint64_t>* labeled = ctx.stats.labeled) {
        if (const std::uint32_t s = slots_.tier[static_cast<std::size_t>(d.tier)];
            s != RedirectSlots::kNoSlot)
            bump(labeled[s]);
        for (std::uint32_t n : d.nodes)
            if (n < slots_.node.size() && slots_.node[n] != RedirectSlots::kNoSlot)
                bump(labeled[slots_.node[n]]);
    }
    // Scope 0 unless the client's subnet came from ECS (and then the scope the
    // decision depended on, which may be longer than the source prefix).
    ctx.ecs_scope = key.from_ecs ? static_cast<std::uint8_t>(d.scope) : 0;
    // Each record written in place: the owner (a pointer to the question,
    // unless a CNAME led here), type, class, TTL, length and address.
    const std::uint16_t ttl_hi = static_cast<std::uint16_t>(d.ttl >> 16);
    const std::uint16_t ttl_lo = static_cast<std::uint16_t>(d.ttl);
    unsigned written = 0;
    for (std::uint32_t n : d.nodes) {
        const auto& addrs =
            family == common::Family::kV4 ? edges_->nodes[n].v4 : edges_->nodes[n].v6;
        for (const auto& a : addrs) {
            const std::size_t len = a.byte_len();
            std::uint8_t* p;
            if (owner.wire) {
                owner.write(w);
                p = w.reserve(10 + len);
            } else {
                p = w.reserve(12 + len);
                if (p) {
                    store16(p, 0xc000 | kHeaderSize);
                    p += 2;
                }
            }
            if (!p) return written;  // overflowed: the responder answers TC=1
            store16(p, qtype);
            store16(p + 2, klass::IN);
            store16(p + 4, ttl_hi);
            store16(p + 6, ttl_lo);
            store16(p + 8, static_cast<std::uint16_t>(len));
            std::memcpy(p + 10, a.bytes(), len);
            ++written;
        }
    }
    return written;
}

unsigned RedirectAnswer::transfer_records(std::uint16_t qtype, const Owner& owner,
                                          Writer& w) const {
    if (!config().export_fallback || (qtype != type::A && qtype != type::AAAA)) return 0;
    unsigned written = 0;
    for (const auto& m : config().fallback.members) {
        const auto& n = edges_->nodes[m.node];
        for (const auto& a : qtype == type::A ? n.v4 : n.v6) {
            owner.write(w);
            w.u16(qtype);
            w.u16(klass::IN);
            w.u32(config().fallback_ttl);
            w.u16(static_cast<std::uint16_t>(a.byte_len()));
            w.bytes(a.bytes(), a.byte_len());
            ++written;
        }
    }
    return written;
}

std::uint64_t RedirectAnswer::transfer_hash() const {
    if (!config().export_fallback) return 0;
    std::uint64_t h = common::mix64(config().fallback_ttl + 1);
    for (const auto& m : config().fallback.members) {
        const auto& n = edges_->nodes[m.node];
        for (const auto* addrs : {&n.v4, &n.v6})
            for (const auto& a : *addrs)
                h += common::mix64(common::fnv1a(
                    std::string_view(reinterpret_cast<const char*>(a.bytes()), a.byte_len())));
    }
    return h;
}

}  // namespace redirect
}  // namespace signpost::dnsd
