// Per-packet cost of answering one query: dnsd's own path (parse in place,
// prebuilt wire answer) against doing the same with ldns (wire2pkt, build the
// answer packet, pkt2wire), on the same zone and queries, in the same run.
// This is the measurement behind "no ldns per query".
//
// BM_Batch: the whole userspace path of a UDP worker (dnsd/batch.hpp: parse a
// batch of 64, decision-range lookups, answers) on a query file, without the
// socket calls; per query, this is what dnsd adds to the kernel's UDP cost.
// Given SIGNPOST_BENCH_CONFIG (a dnsd config), SIGNPOST_BENCH_QUERIES (a query
// file, bench/query_file.hpp) and, for geo maps, SIGNPOST_BENCH_TABLE (a geo
// table written by `geoipd --export-table`). Skipped without the first two.

#include <benchmark/benchmark.h>

#include <fcntl.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/query_file.hpp"
#include "dnsd/server/batch.hpp"
#include "dnsd/server/config.hpp"
#include "dnsd/server/serving_state.hpp"
#include "dnsd/wire/query.hpp"
#include "dnsd/zone/responder.hpp"
#include "dnsd/zone/zone_loader.hpp"

#include <ldns/ldns.h>  // after the C++ headers (its C macros upset <optional>)

using namespace signpost::dnsd;

namespace {

const std::string kZoneFile = std::string(SIGNPOST_SOURCE_DIR) + "/maps/zones/cdn.example.net.zone";

std::vector<std::uint8_t> query_wire(const char* name, ldns_rr_type t) {
    ldns_pkt* q = nullptr;
    ldns_pkt_query_new_frm_str(&q, name, t, LDNS_RR_CLASS_IN, 0);
    ldns_pkt_set_edns_udp_size(q, 1232);
    std::uint8_t* w = nullptr;
    std::size_t n = 0;
    ldns_pkt2wire(&w, q, &n);
    std::vector<std::uint8_t> v(w, w + n);
    std::free(w);
    ldns_pkt_free(q);
    return v;
}

void BM_DnsdPath(benchmark::State& state) {
    ZoneSet zones;
    auto r = load_zone_file("cdn.example.net", kZoneFile);
    zones.add(r.zone);
    const auto q = query_wire("edge.cdn.example.net.", LDNS_RR_TYPE_A);
    WorkerStats stats;
    ResponderOptions opts;
    const auto src = *signpost::common::IpAddress::parse("192.0.2.1");
    std::uint8_t out[4096];
    Query query;
    for (auto _ : state) {
        const auto st = parse_query(q, query);
        benchmark::DoNotOptimize(
            respond(query, st, src, Transport::kUdp, {zones, opts, stats}, out));
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// The same answer with ldns: decode the query, find the RRset in an ldns zone
// (a sorted rr list searched linearly would be unfair; use ldns_dnssec_zone's
// rbtree), build the response packet, encode it.
void BM_LdnsPath(benchmark::State& state) {
    FILE* fp = std::fopen(kZoneFile.c_str(), "r");
    ldns_zone* zone = nullptr;
    ldns_rdf* origin = ldns_dname_new_frm_str("cdn.example.net.");
    int line = 0;
    ldns_zone_new_frm_fp_l(&zone, fp, origin, 3600, LDNS_RR_CLASS_IN, &line);
    std::fclose(fp);
    ldns_dnssec_zone* dz = ldns_dnssec_zone_new();
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(zone)); ++i)
        ldns_dnssec_zone_add_rr(dz, ldns_rr_clone(ldns_rr_list_rr(ldns_zone_rrs(zone), i)));
    ldns_dnssec_zone_add_rr(dz, ldns_rr_clone(ldns_zone_soa(zone)));
    const auto q = query_wire("edge.cdn.example.net.", LDNS_RR_TYPE_A);
    for (auto _ : state) {
        ldns_pkt* in = nullptr;
        if (ldns_wire2pkt(&in, q.data(), q.size()) != LDNS_STATUS_OK)
            state.SkipWithError("wire2pkt");
        ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(in), 0);
        ldns_pkt* resp = ldns_pkt_new();
        ldns_pkt_set_id(resp, ldns_pkt_id(in));
        ldns_pkt_set_qr(resp, true);
        ldns_pkt_set_aa(resp, true);
        ldns_pkt_push_rr(resp, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
        ldns_rbnode_t* node = ldns_rbtree_search(dz->names, ldns_rr_owner(question));
        if (node) {
            auto* name = static_cast<ldns_dnssec_name*>(const_cast<void*>(node->data));
            ldns_dnssec_rrsets* rrs = ldns_dnssec_name_find_rrset(name, ldns_rr_get_type(question));
            for (ldns_dnssec_rrs* rr = rrs ? rrs->rrs : nullptr; rr; rr = rr->next)
                ldns_pkt_push_rr(resp, LDNS_SECTION_ANSWER, ldns_rr_clone(rr->rr));
        }
        ldns_pkt_set_edns_udp_size(resp, 1232);
        std::uint8_t* w = nullptr;
        std::size_t n = 0;
        ldns_pkt2wire(&w, resp, &n);
        benchmark::DoNotOptimize(n);
        std::free(w);
        ldns_pkt_free(resp);
        ldns_pkt_free(in);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    ldns_dnssec_zone_deep_free(dz);
    ldns_zone_deep_free(zone);
    ldns_rdf_deep_free(origin);
}

void BM_Batch(benchmark::State& state) {
    const char* config_path = std::getenv("SIGNPOST_BENCH_CONFIG");
    const char* query_path = std::getenv("SIGNPOST_BENCH_QUERIES");
    if (!config_path || !query_path) {
        state.SkipWithError("SIGNPOST_BENCH_CONFIG and SIGNPOST_BENCH_QUERIES are not set");
        return;
    }
    std::string error;
    std::vector<std::string> warnings;
    std::shared_ptr<const signpost::common::GeoTable> table;
    if (const char* table_path = std::getenv("SIGNPOST_BENCH_TABLE")) {
        table = signpost::common::GeoTable::map_fd(::open(table_path, O_RDONLY | O_CLOEXEC), false,
                                                   error);
        if (!table) {
            state.SkipWithError((std::string(table_path) + ": " + error).c_str());
            return;
        }
    }
    const auto config = load_config(config_path, error);
    const auto serving = config ? build_state(*config, 1, error, warnings, table) : nullptr;
    const auto queries = signpost::bench::load_queries(query_path);
    if (!serving || queries.empty()) {
        state.SkipWithError(serving ? "no queries" : error.c_str());
        return;
    }
    WorkerStats stats;
    BatchAnswerer answerer(stats);
    auto batch = std::make_unique<Batch>();
    const auto source = *signpost::common::IpAddress::parse("127.0.0.1");
    std::size_t next = 0;
    auto fill = [&] {  // what recvmmsg does: copy the datagrams in
        for (unsigned i = 0; i < Batch::kSize; ++i) {
            const auto& q = queries[next];
            next = next + 1 == queries.size() ? 0 : next + 1;
            std::memcpy(batch->in[i], q.data(), q.size());
            batch->in_len[i] = q.size();
            batch->oversize[i] = false;
            batch->source[i] = source;
        }
    };
    const std::shared_ptr<const HealthState> health;  // no checks: the config's admin state
    for (std::size_t done = 0; done < queries.size() + Batch::kSize; done += Batch::kSize) {
        fill();  // every query once before timing (page in the ranges, warm the answer cache)
        answerer.answer(*batch, Batch::kSize, serving, health);
    }
    std::uint64_t unanswered = 0;
    for (auto _ : state) {
        fill();
        answerer.answer(*batch, Batch::kSize, serving, health);
        for (unsigned i = 0; i < Batch::kSize; ++i) unanswered += batch->out_len[i] == 0;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * Batch::kSize);
    state.counters["unanswered"] = static_cast<double>(unanswered);
    state.counters["fallback"] = static_cast<double>(stats.redirect_fallback.load());
}

}  // namespace

BENCHMARK(BM_DnsdPath);
BENCHMARK(BM_Batch);
BENCHMARK(BM_LdnsPath);
BENCHMARK_MAIN();
