#include "dnsd/zone/responder.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>

#include "dnsd/wire/writer.hpp"
#include "dnsd/zone/dynamic_answer.hpp"

namespace signpost::dnsd {
inline namespace zone {

namespace {

// CNAME chains longer than this are cut (the resolver can continue): a loop
// in the zone data must not loop here.
constexpr int kMaxChain = 8;
// HINFO answer for ANY (RFC 8482 section 4.2): CPU "RFC8482", OS "".
constexpr std::uint8_t kAnyHinfo[] = {7, 'R', 'F', 'C', '8', '4', '8', '2', 0};

std::size_t wire_name_len(const std::uint8_t* n) {
    std::size_t len = 1;
    for (; *n != 0; n += *n + 1) len += *n + 1u;
    return len;
}

struct Counts {
    std::uint16_t an = 0, ns = 0, ar = 0;
};

class Builder {
  public:
    Builder(Writer& w, const Query& q, const ZoneSet& zones, const common::IpAddress& source,
            WorkerStats& stats, QueryEnv& env, bool tcp)
        : w_(w), q_(q), zones_(zones), source_(source), stats_(stats), env_(env), tcp_(tcp) {}

    std::uint8_t rcode = rcode::NOERROR;
    bool aa = false;
    Counts c;
    std::uint8_t ecs_scope = 0;
    std::size_t additional_start = 0;

    void answer();

  private:
    // owner: a wire name, or nullptr for the query name.
    void owner(const std::uint8_t* wire) { Owner{wire}.write(w_); }
    void record(const Record& rec) { write_rdata(w_, rec); }
    std::uint16_t rrset(const std::uint8_t* owner_wire, const RRset& rs, std::uint32_t ttl) {
        for (const auto& rec : rs.records) {
            owner(owner_wire);
            w_.u16(rs.type);
            w_.u16(klass::IN);
            w_.u32(ttl);
            record(rec);
        }
        return static_cast<std::uint16_t>(rs.records.size());
    }
    void negative(const Zone& z) {
        c.ns +=
            rrset(reinterpret_cast<const std::uint8_t*>(z.origin.data()), *z.soa, z.negative_ttl);
    }
    void referral(const Zone& z, const LookupResult& r);
    // A computed name's answer (n.dynamic), owned by `owner`.
    void dynamic(const Zone& z, const Node& n, const std::uint8_t* owner) {
        env_.dynamic_used = true;
        DynamicContext ctx{q_, source_, env_, stats_};
        const unsigned added = n.dynamic->answer(ctx, q_.qtype, Owner{owner}, w_);
        ecs_scope = ctx.ecs_scope;
        c.an += static_cast<std::uint16_t>(added);
        if (added == 0) negative(z);
    }
    void notify();
    // A secondary zone without data: SERVFAIL, so resolvers ask another server.
    bool unavailable(const Zone& z) {
        if (!z.unavailable) return false;
        bump(stats_.zone_unavailable);
        rcode = rcode::SERVFAIL;
        return true;
    }

    Writer& w_;
    const Query& q_;
    const ZoneSet& zones_;
    const common::IpAddress& source_;
    WorkerStats& stats_;
    QueryEnv& env_;
    bool tcp_;
};

void Builder::referral(const Zone& z, const LookupResult& r) {
    aa = false;
    bump(stats_.referrals);
    const RRset* ns = r.node->find(type::NS);
    if (!ns) return;  // (a cut always has its NS set; never trust that blindly)
    const auto* cut = reinterpret_cast<const std::uint8_t*>(r.cut_name.data());
    c.ns += rrset(cut, *ns, ns->ttl);
    // Glue: addresses of name servers inside this zone (RFC 9471 says these
    // are required; a referral without them is useless to the resolver).
    additional_start = w_.size();
    NameBuf target;
    for (const auto& rec : ns->records) {
        if (!target.set(rec.rdata.data()) || zones_.find(target.ref) != &z) continue;
        const Node* n = z.node(target.ref.suffix(0));
        if (!n) continue;
        for (std::uint16_t t : {type::A, type::AAAA})
            if (const RRset* g = n->find(t)) c.ar += rrset(rec.rdata.data(), *g, g->ttl);
    }
}

// RFC 1996: a NOTIFY for a secondary zone from one of its primaries is
// acknowledged (same ID, question and opcode, AA) and passed on; the zone's
// SOA is then asked of the primaries, so the NOTIFY itself changes nothing.
void Builder::notify() {
    const NameRef qn{q_.qname, q_.qname_len, q_.label_count, q_.label_offset};
    const Zone* z = zones_.find(qn);
    if (!z ||
        z->origin != std::string_view(reinterpret_cast<const char*>(q_.qname), q_.qname_len)) {
        bump(stats_.notify_refused);
        rcode = rcode::NOTAUTH;  // not a zone apex served here
        return;
    }
    const common::IpAddress from = source_.unmapped();
    const bool primary = z->on_notify && std::find(z->notify_from.begin(), z->notify_from.end(),
                                                   from) != z->notify_from.end();
    if (!primary || q_.qclass != klass::IN) {
        bump(stats_.notify_refused);
        rcode = rcode::REFUSED;
        return;
    }
    if (q_.qtype != type::SOA) {
        rcode = rcode::NOTIMP;  // only SOA NOTIFYs are defined (RFC 1996 3.2)
        return;
    }
    bump(stats_.notify_received);
    env_.dynamic_used = true;  // never an answer to copy from the cache
    aa = true;
    z->on_notify->notified(z->origin, from);
}

void Builder::answer() {
    if (q_.opcode == kOpNotify) {
        notify();
        return;
    }
    if (q_.qclass != klass::IN && q_.qclass != klass::ANY) {
        rcode = rcode::REFUSED;  // we serve class IN only (CHAOS and others are not ours)
        return;
    }
    if (q_.qtype == type::OPT) {
        rcode = rcode::FORMERR;  // OPT is a pseudo-type: it cannot be asked for (RFC 6891 6.1.1)
        return;
    }
    if (q_.qtype == type::IXFR && !tcp_) {
        // IXFR over UDP (RFC 1995 2, 4): the current SOA alone, which tells
        // the client either that it is current or to ask over TCP.
        const NameRef qn{q_.qname, q_.qname_len, q_.label_count, q_.label_offset};
        const Zone* z = zones_.find(qn);
        if (z &&
            z->origin == std::string_view(reinterpret_cast<const char*>(q_.qname), q_.qname_len)) {
            if (unavailable(*z)) return;
            aa = true;
            c.an += rrset(nullptr, *z->soa, z->soa->ttl);
            return;
        }
    }
    if (q_.qtype == type::AXFR || q_.qtype == type::IXFR) {
        // Transfers are streamed by the TCP server to allowed clients
        // (zone/transfer.hpp); one that reaches here is refused: an AXFR over
        // UDP, a client not in the zone's allow_transfer, or not at an apex.
        bump(stats_.axfr_refused);
        rcode = rcode::REFUSED;
        return;
    }
    // The name the last queries asked, when it was a computed name: the same
    // zone and node as the walk below would find (the state is the same; a
    // DS query may stop at a cut above, so it always walks).
    if (q_.qtype != type::DS && env_.last_dynamic.matches(q_)) {
        aa = true;
        dynamic(*env_.last_dynamic.zone, *env_.last_dynamic.node, nullptr);
        return;
    }
    const NameRef qn{q_.qname, q_.qname_len, q_.label_count, q_.label_offset};
    const Zone* zone = zones_.find(qn);
    if (!zone) {
        rcode = rcode::REFUSED;  // not ours, and we never recurse
        return;
    }
    if (unavailable(*zone)) return;
    aa = true;
    NameBuf buf;
    NameRef cur = qn;
    const std::uint8_t* cur_owner = nullptr;  // nullptr: the query name
    for (int step = 0;; ++step) {
        const LookupResult r = lookup(*zone, cur, q_.qtype == type::DS);
        if (r.kind == LookupKind::kReferral) {
            // After a CNAME the chain simply stops at the cut; the resolver follows it.
            if (step == 0) referral(*zone, r);
            return;
        }
        if (r.kind == LookupKind::kNxDomain) {
            rcode = rcode::NXDOMAIN;  // of the last name in the chain (RFC 6604)
            negative(*zone);
            return;
        }
        const Node* n = r.node;
        if (n->dynamic) {
            if (step == 0 && q_.qtype != type::DS) env_.last_dynamic.set(zone, n, q_);
            dynamic(*zone, *n, cur_owner);
            return;
        }
        const RRset* cname = n->find(type::CNAME);
        if (cname && q_.qtype != type::CNAME) {
            c.an += rrset(cur_owner, *cname, cname->ttl);
            const std::uint8_t* target = cname->records.front().rdata.data();
            if (step + 1 >= kMaxChain || !buf.set(target) || zones_.find(buf.ref) != zone) return;
            cur = buf.ref;
            cur_owner = target;
            continue;
        }
        if (q_.qtype == type::ANY) {
            if (n->rrsets.empty()) {
                negative(*zone);
                return;
            }
            bump(stats_.any);
            owner(cur_owner);
            w_.u16(type::HINFO);
            w_.u16(klass::IN);
            w_.u32(zone->negative_ttl);
            w_.u16(sizeof kAnyHinfo);
            w_.bytes(kAnyHinfo, sizeof kAnyHinfo);
            ++c.an;
            return;
        }
        if (const RRset* rs = n->find(q_.qtype)) {
            c.an += rrset(cur_owner, *rs, rs->ttl);
        } else {
            negative(*zone);  // NODATA: the name exists (maybe as an empty non-terminal)
        }
        return;
    }
}

void count_rcode(WorkerStats& s, std::uint16_t rc) {
    switch (rc) {
        case rcode::NOERROR:
            bump(s.noerror);
            break;
        case rcode::NXDOMAIN:
            bump(s.nxdomain);
            break;
        case rcode::FORMERR:
            bump(s.formerr);
            break;
        case rcode::REFUSED:
            bump(s.refused);
            break;
        case rcode::NOTIMP:
            bump(s.notimp);
            break;
        case rcode::BADVERS:
            bump(s.badvers);
            break;
        default:
            bump(s.servfail);
            break;
    }
}

}  // namespace

void write_rdata(Writer& w, const Record& rec) {
    if (rec.names == 0) {
        w.u16(static_cast<std::uint16_t>(rec.rdata.size()));
        w.bytes(rec.rdata.data(), rec.rdata.size());
        return;
    }
    const std::size_t len_at = w.size();
    w.u16(0);
    std::size_t pos = 0;
    for (std::uint8_t i = 0; i < rec.names; ++i) {
        w.bytes(rec.rdata.data() + pos, rec.name_at[i] - pos);
        w.name(rec.rdata.data() + rec.name_at[i]);
        pos = rec.name_at[i] + wire_name_len(rec.rdata.data() + rec.name_at[i]);
    }
    w.bytes(rec.rdata.data() + pos, rec.rdata.size() - pos);
    if (!w.overflowed()) w.patch16(len_at, static_cast<std::uint16_t>(w.size() - len_at - 2));
}

const DynamicAnswer* dynamic_answer_for(const ZoneSet& zones, const NameRef& name,
                                        std::vector<std::string>* walked) {
    // The same walk as Builder::answer: through CNAMEs within the zone.
    NameBuf buf;
    NameRef cur = name;
    const Zone* zone = zones.find(cur);
    if (zone && zone->unavailable) return nullptr;  // no data: nothing to walk
    for (int step = 0; zone && step < kMaxChain; ++step) {
        const LookupResult r = lookup(*zone, cur, false);
        if (r.kind != LookupKind::kAnswer) return nullptr;
        if (r.node->dynamic) return r.node->dynamic.get();
        const RRset* cname = r.node->find(type::CNAME);
        if (!cname) return nullptr;
        const std::uint8_t* target = cname->records.front().rdata.data();
        if (walked) walked->push_back(name_to_text(cur.wire) + " CNAME " + name_to_text(target));
        if (!buf.set(target) || zones.find(buf.ref) != zone) return nullptr;
        cur = buf.ref;
    }
    return nullptr;
}

std::size_t respond(const Query& q, ParseStatus status, const common::IpAddress& source,
                    Transport transport, const AnswerContext& ctx, std::span<std::uint8_t> buf) {
    const ZoneSet& zones = ctx.zones;
    const ResponderOptions& opts = ctx.options;
    WorkerStats& stats = ctx.stats;
    QueryEnv* env = ctx.env;
    if (!env) {  // a caller without one: a fresh one (not on the query path's stack)
        QueryEnv fresh;
        AnswerContext with = ctx;
        with.env = &fresh;
        return respond(q, status, source, transport, with, buf);
    }
    const bool tcp = transport == Transport::kTcp;
    std::uint8_t* const out = buf.data();
    const std::size_t capacity = buf.size();
    if (status == ParseStatus::kDrop) {
        bump(stats.dropped);
        return 0;
    }
    // RFC 6891 7: with EDNS the client's size (at least 512) bounds the answer,
    // capped at what we advertise; without, 512 (RFC 1035 4.2.1).
    std::size_t limit = kMinUdpPayload;
    if (tcp) {
        limit = kMaxMessage;
    } else if (q.edns && status != ParseStatus::kFormErr) {
        limit = std::clamp<std::size_t>(q.udp_payload, kMinUdpPayload, opts.edns_payload);
    }
    limit = std::min(limit, capacity);
    // A malformed OPT is not echoed; otherwise the OPT comes back (RFC 6891 7).
    const bool with_opt = q.edns && status != ParseStatus::kFormErr;
    const std::size_t ecs_octets = (q.ecs.source_len + 7u) / 8u;
    const bool with_nsid = q.nsid && !opts.nsid.empty();
    const bool with_cookie = q.cookie.present && opts.cookies;
    const std::size_t opt_rdlen = (q.ecs.present ? 8 + ecs_octets : 0) +
                                  (with_nsid ? 4 + opts.nsid.size() : 0) +
                                  (with_cookie ? 4 + 8 + 16 : 0);
    const std::size_t opt_size = with_opt ? 11 + opt_rdlen : 0;

    Writer w(out, limit - std::min(limit, opt_size));
    if (std::uint8_t* h = w.reserve(kHeaderSize)) {
        // ID, then flags and counts (patched at the end); QDCOUNT now.
        store16(h, q.id);
        std::memset(h + 2, 0, kHeaderSize - 2);
        h[5] = q.has_question ? 1 : 0;
    }
    if (q.has_question) {
        w.bytes(q.question, q.question_len);
        if (!w.overflowed()) w.remember_labels(kHeaderSize, q.label_offset, q.label_count);
    }
    const std::size_t after_question = w.size();

    Builder b(w, q, zones, source, stats, *env, tcp);
    std::uint16_t rc = rcode::NOERROR;
    switch (status) {
        case ParseStatus::kFormErr:
            rc = rcode::FORMERR;
            break;
        case ParseStatus::kNotImp:
            rc = rcode::NOTIMP;
            break;
        case ParseStatus::kBadVers:
            rc = rcode::BADVERS;
            break;
        default:
            if (q.edns) bump(stats.edns);
            if (q.ecs.present) bump(stats.ecs);
            b.answer();
            rc = b.rcode;
    }
    bool tc = false;
    if (w.overflowed()) {
        if (b.additional_start != 0 && b.additional_start > after_question) {
            // Only the glue did not fit: drop the additional section.
            w.truncate_to(b.additional_start);
            b.c.ar = 0;
        } else {
            w.truncate_to(after_question);
            b.c = Counts{};
            tc = true;
            bump(stats.truncated);
        }
    }
    std::uint16_t ar = b.c.ar;
    if (with_opt) {
        w.set_limit(limit);
        // The OPT record's fixed part and the ECS option, stored in place
        // (their room was kept out of the answer's limit above).
        const std::size_t fixed = 11 + (q.ecs.present ? 8 + ecs_octets : 0);
        if (std::uint8_t* p = w.reserve(fixed)) {
            p[0] = 0;  // root owner
            store16(p + 1, type::OPT);
            store16(p + 3, opts.edns_payload);
            p[5] = static_cast<std::uint8_t>(rc >> 4);  // extended rcode, upper 8 bits
            p[6] = 0;                                   // version 0
            store16(p + 7, q.do_bit ? 0x8000 : 0);
            store16(p + 9, static_cast<std::uint16_t>(opt_rdlen));
            if (q.ecs.present) {
                // RFC 7871 7.2.1: family, source prefix and address echoed; the
                // scope says how far the answer depends on the address (0 for
                // static data), longer than the source prefix when the answer
                // changes inside it.
                store16(p + 11, kOptionEcs);
                store16(p + 13, static_cast<std::uint16_t>(4 + ecs_octets));
                store16(p + 15, q.ecs.family);
                p[17] = q.ecs.source_len;
                p[18] = b.ecs_scope;
                std::memcpy(p + 19, q.ecs.address.bytes(), ecs_octets);
            }
        }
        if (with_nsid) {
            w.u16(kOptionNsid);
            w.u16(static_cast<std::uint16_t>(opts.nsid.size()));
            w.bytes(reinterpret_cast<const std::uint8_t*>(opts.nsid.data()), opts.nsid.size());
        }
        if (with_cookie) {
            std::uint8_t server[16];
            answer_cookie(q.cookie, source, opts.cookie_secret,
                          static_cast<std::uint32_t>(std::time(nullptr)), server);
            w.u16(kOptionCookie);
            w.u16(8 + 16);
            w.bytes(q.cookie.client, 8);
            w.bytes(server, 16);
        }
        ++ar;
    }
    std::uint16_t flags = flag::QR | (q.flags & (0x7800 | flag::RD | flag::CD));
    if (b.aa && rc != rcode::REFUSED && rc != rcode::FORMERR) flags |= flag::AA;
    if (tc) flags |= flag::TC;
    flags |= rc & 0xf;
    w.patch16(2, flags);
    w.patch16(6, b.c.an);
    w.patch16(8, b.c.ns);
    w.patch16(10, ar);
    count_rcode(stats, rc);
    return w.size();
}

}  // namespace zone
}  // namespace signpost::dnsd
