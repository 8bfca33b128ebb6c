#pragma once
// Query files for the benchmarks: one query per line, "NAME TYPE [ECS-SUBNET]"
// (e.g. "www.example.net A 198.51.100.0/24"), turned into wire-format queries
// with EDNS0 (payload 1232) and, when a subnet is given, an ECS option.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/ip_address.hpp"

namespace signpost::bench {

inline std::vector<std::uint8_t> build_query(const std::string& name, std::uint16_t qtype,
                                             const std::string& ecs) {
    std::vector<std::uint8_t> p = {0, 0, 0, 0, 0, 1,
                                   0, 0, 0, 0, 0, 1};  // RD=0, one question, one OPT
    std::stringstream ss(name);
    std::string label;
    while (std::getline(ss, label, '.')) {
        if (label.empty()) continue;
        p.push_back(static_cast<std::uint8_t>(label.size()));
        p.insert(p.end(), label.begin(), label.end());
    }
    p.push_back(0);
    p.insert(p.end(),
             {static_cast<std::uint8_t>(qtype >> 8), static_cast<std::uint8_t>(qtype), 0, 1});
    std::vector<std::uint8_t> opt;
    if (!ecs.empty()) {
        auto pre = common::Prefix::parse(ecs);
        if (!pre) {
            std::fprintf(stderr, "bad ECS subnet %s\n", ecs.c_str());
            std::exit(2);
        }
        const unsigned octets = (pre->length() + 7) / 8;
        opt = {0,
               8,
               0,
               static_cast<std::uint8_t>(4 + octets),
               0,
               static_cast<std::uint8_t>(pre->family() == common::Family::kV4 ? 1 : 2),
               static_cast<std::uint8_t>(pre->length()),
               0};
        opt.insert(opt.end(), pre->address().bytes(), pre->address().bytes() + octets);
    }
    p.insert(p.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, static_cast<std::uint8_t>(opt.size() >> 8),
                       static_cast<std::uint8_t>(opt.size())});
    p.insert(p.end(), opt.begin(), opt.end());
    return p;
}

inline std::uint16_t type_code(const std::string& t) {
    if (t == "A") return 1;
    if (t == "NS") return 2;
    if (t == "CNAME") return 5;
    if (t == "SOA") return 6;
    if (t == "MX") return 15;
    if (t == "TXT") return 16;
    if (t == "AAAA") return 28;
    return static_cast<std::uint16_t>(std::atoi(t.c_str()));
}

// Every query of the file (blank and unparsable lines skipped).
inline std::vector<std::vector<std::uint8_t>> load_queries(const std::string& file) {
    std::vector<std::vector<std::uint8_t>> queries;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        std::stringstream ls(line);
        std::string name, t, ecs;
        if (!(ls >> name >> t)) continue;
        ls >> ecs;
        queries.push_back(build_query(name, type_code(t), ecs));
    }
    return queries;
}

}  // namespace signpost::bench
