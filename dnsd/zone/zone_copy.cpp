#include "dnsd/zone/zone_copy.hpp"

#include <ldns/ldns.h>

#include <cstring>
#include <memory>

#include "dnsd/wire/wire.hpp"

namespace signpost::dnsd {
inline namespace zone {

namespace {

std::uint32_t load32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
}

std::size_t wire_name_len(std::string_view key) {
    std::size_t i = 0;
    while (i < key.size() && key[i] != 0) i += static_cast<unsigned char>(key[i]) + 1u;
    return i + 1;
}

const char* rcode_text(unsigned rc) {
    static const char* const kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                         "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                         "NXRRSET", "NOTAUTH", "NOTZONE"};
    return rc < sizeof kNames / sizeof kNames[0] ? kNames[rc] : "an unknown rcode";
}

// Serial arithmetic (RFC 1982): a is newer than b.
bool newer(std::uint32_t a, std::uint32_t b) {
    return a != b && static_cast<std::int32_t>(a - b) > 0;
}

}  // namespace

std::string record_key(std::string_view owner, std::uint16_t type,
                       std::span<const std::uint8_t> rdata) {
    std::string k(owner);
    k.push_back(static_cast<char>(type >> 8));
    k.push_back(static_cast<char>(type & 0xff));
    k.append(reinterpret_cast<const char*>(rdata.data()), rdata.size());
    return k;
}

RecordSet records_of(const Zone& z) {
    RecordSet out;
    for (const auto& [name, node] : z.nodes)
        for (const auto& rs : node.rrsets)
            for (const auto& rec : rs.records) out[record_key(name, rs.type, rec.rdata)] = rs.ttl;
    return out;
}

SoaTimers soa_timers(std::span<const std::uint8_t> rdata) {
    SoaTimers t;
    if (rdata.size() < 22) return t;
    const std::uint8_t* end = rdata.data() + rdata.size();
    t.serial = load32(end - 20);
    t.refresh = load32(end - 16);
    t.retry = load32(end - 12);
    t.expire = load32(end - 8);
    return t;
}

bool zone_text(const RecordSet& records, const std::string& header, std::string& out,
               std::string& error) {
    out.clear();
    std::size_t start = 0;
    while (start < header.size()) {
        std::size_t nl = header.find('\n', start);
        if (nl == std::string::npos) nl = header.size();
        out += "; " + header.substr(start, nl - start) + "\n";
        start = nl + 1;
    }
    std::vector<std::uint8_t> wire;
    for (const auto& [key, ttl] : records) {
        const std::size_t owner = wire_name_len(key);
        if (key.size() < owner + 2) {
            error = "a malformed record key";
            return false;
        }
        const std::size_t rdlen = key.size() - owner - 2;
        wire.assign(key.begin(), key.begin() + static_cast<std::ptrdiff_t>(owner + 2));
        const std::uint8_t fixed[] = {0,
                                      1,  // class IN
                                      static_cast<std::uint8_t>(ttl >> 24),
                                      static_cast<std::uint8_t>(ttl >> 16),
                                      static_cast<std::uint8_t>(ttl >> 8),
                                      static_cast<std::uint8_t>(ttl),
                                      static_cast<std::uint8_t>(rdlen >> 8),
                                      static_cast<std::uint8_t>(rdlen)};
        wire.insert(wire.end(), fixed, fixed + sizeof fixed);
        wire.insert(wire.end(), key.begin() + static_cast<std::ptrdiff_t>(owner + 2), key.end());
        ldns_rr* rr = nullptr;
        std::size_t pos = 0;
        if (ldns_wire2rr(&rr, wire.data(), wire.size(), &pos, LDNS_SECTION_ANSWER) !=
            LDNS_STATUS_OK) {
            error = "a record ldns cannot read at " +
                    name_to_text(reinterpret_cast<const std::uint8_t*>(key.data()));
            return false;
        }
        char* text = ldns_rr2str(rr);
        ldns_rr_free(rr);
        if (!text) {
            error = "a record ldns cannot print at " +
                    name_to_text(reinterpret_cast<const std::uint8_t*>(key.data()));
            return false;
        }
        out += text;
        if (out.back() != '\n') out.push_back('\n');
        std::free(text);
    }
    return true;
}

TransferReader::TransferReader(std::string origin, std::uint16_t id, const RecordSet* have,
                               std::uint32_t have_serial, std::size_t max_records)
    : origin_(std::move(origin)),
      id_(id),
      have_(have),
      have_serial_(have_serial),
      max_records_(max_records) {}

TransferReader::Status TransferReader::fail(std::string what) {
    error_ = std::move(what);
    phase_ = Phase::kDone;
    return Status::kError;
}

TransferReader::Status TransferReader::feed(std::span<const std::uint8_t> message) {
    if (!error_.empty()) return Status::kError;
    if (phase_ == Phase::kDone) return fail("a message after the end of the transfer");
    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, message.data(), message.size()) != LDNS_STATUS_OK)
        return fail("a malformed message (message " + std::to_string(messages_ + 1) + ")");
    std::unique_ptr<ldns_pkt, void (*)(ldns_pkt*)> pkt(raw, ldns_pkt_free);
    ++messages_;
    if (!ldns_pkt_qr(pkt.get()) || ldns_pkt_id(pkt.get()) != id_)
        return fail("an answer to another query (ID or QR)");
    if (const unsigned rc = ldns_pkt_get_rcode(pkt.get()); rc != 0)
        return fail(std::string("the primary answered ") + rcode_text(rc));
    const ldns_rr_list* an = ldns_pkt_answer(pkt.get());
    const std::size_t count = an ? ldns_rr_list_rr_count(an) : 0;
    if (messages_ == 1 && count == 0) return fail("an empty answer");
    std::unique_ptr<ldns_buffer, void (*)(ldns_buffer*)> buf(ldns_buffer_new(512),
                                                             ldns_buffer_free);
    for (std::size_t i = 0; i < count; ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(an, i);
        if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
            return fail("a record of a class other than IN");
        const ldns_rdf* o = ldns_rr_owner(rr);
        std::string owner(reinterpret_cast<const char*>(ldns_rdf_data(o)), ldns_rdf_size(o));
        for (auto& c : owner)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        ldns_buffer_clear(buf.get());
        if (ldns_rr_rdata2buffer_wire(buf.get(), rr) != LDNS_STATUS_OK)
            return fail("a record whose rdata cannot be read");
        const std::span<const std::uint8_t> rdata(ldns_buffer_begin(buf.get()),
                                                  ldns_buffer_position(buf.get()));
        const auto type = static_cast<std::uint16_t>(ldns_rr_get_type(rr));
        if (++received_ > max_records_)
            return fail("more than " + std::to_string(max_records_) + " records");
        std::string key = record_key(owner, type, rdata);
        if (record(std::move(key), type, ldns_rr_ttl(rr), rdata) == Status::kError)
            return Status::kError;
        if (phase_ == Phase::kDone && i + 1 != count) return fail("records after the closing SOA");
    }
    if (phase_ == Phase::kSecond && messages_ == 1 && have_) {
        // The SOA alone: the copy is current (RFC 1995 4); with a newer
        // serial, the server will not send differences: ask for AXFR at once.
        if (newer(serial_, have_serial_))
            return fail("the IXFR answer is a newer SOA alone (no differences offered)");
        kind_ = Kind::kCurrent;
        phase_ = Phase::kDone;
    }
    return phase_ == Phase::kDone ? finish() : Status::kMore;
}

TransferReader::Status TransferReader::record(std::string key, std::uint16_t type,
                                              std::uint32_t ttl,
                                              std::span<const std::uint8_t> rdata) {
    const bool soa = type == type::SOA;
    if (soa &&
        (key.compare(0, origin_.size(), origin_) != 0 || wire_name_len(key) != origin_.size()))
        return fail("an SOA record outside the zone apex");
    const std::uint32_t serial = soa ? soa_timers(rdata).serial : 0;
    switch (phase_) {
        case Phase::kFirst:
            if (!soa) return fail("the answer does not begin with the zone's SOA");
            serial_ = serial;
            first_soa_key_ = key;
            first_soa_ttl_ = ttl;
            phase_ = Phase::kSecond;
            return Status::kMore;
        case Phase::kSecond:
            if (soa && have_ && serial == have_serial_ && serial != serial_) {
                // The difference sequence begins: the copy's SOA is deleted first.
                kind_ = Kind::kIncremental;
                result_ = *have_;
                if (result_.erase(key) == 0)
                    return fail("IXFR from an SOA that differs from the copy's");
                phase_ = Phase::kIxfrDeleting;
                return Status::kMore;
            }
            kind_ = Kind::kFull;
            result_[first_soa_key_] = first_soa_ttl_;
            changes_ = 1;
            phase_ = Phase::kAxfr;
            [[fallthrough]];
        case Phase::kAxfr:
            if (soa) {
                if (key != first_soa_key_) return fail("a second SOA inside the zone");
                phase_ = Phase::kDone;
                return Status::kMore;
            }
            result_[key] = ttl;
            ++changes_;
            return Status::kMore;
        case Phase::kIxfrDeleting:
            if (soa) {  // the version this step leads to: its records are added next
                step_to_ = serial;
                step_soa_key_ = key;
                step_soa_ttl_ = ttl;
                result_[key] = ttl;
                phase_ = Phase::kIxfrAdding;
                return Status::kMore;
            }
            if (result_.erase(key) == 0)
                return fail("IXFR deletes a record the copy does not have, at " +
                            name_to_text(reinterpret_cast<const std::uint8_t*>(key.data())));
            ++changes_;
            return Status::kMore;
        case Phase::kIxfrAdding:
            if (soa) {
                ++steps_;
                if (step_to_ == serial_ && key == first_soa_key_) {
                    phase_ = Phase::kDone;
                    return Status::kMore;
                }
                // The next step, from the version just reached.
                if (serial != step_to_ || key != step_soa_key_)
                    return fail("IXFR steps out of order (serial " + std::to_string(serial) +
                                " after " + std::to_string(step_to_) + ")");
                result_.erase(key);
                phase_ = Phase::kIxfrDeleting;
                return Status::kMore;
            }
            result_[key] = ttl;
            ++changes_;
            return Status::kMore;
        case Phase::kDone:
            break;
    }
    return fail("records after the closing SOA");
}

TransferReader::Status TransferReader::finish() {
    if (kind_ == Kind::kIncremental && result_.count(first_soa_key_) == 0)
        return fail("IXFR ends without the new SOA");
    return Status::kDone;
}

}  // namespace zone
}  // namespace signpost::dnsd
