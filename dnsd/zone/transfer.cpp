#include "dnsd/zone/transfer.hpp"

#include "dnsd/zone/dynamic_answer.hpp"
#include "dnsd/zone/responder.hpp"

namespace signpost::dnsd {
inline namespace zone {

AxfrStream::AxfrStream(std::shared_ptr<const void> keep, const Zone& zone, const Query& query,
                       std::span<const std::uint8_t> question)
    : keep_(std::move(keep)),
      zone_(zone),
      id_(query.id),
      rd_((query.flags & 0x0100) != 0),
      question_(question.begin(), question.end()),
      node_(zone.nodes.begin()) {}

std::size_t AxfrStream::next(std::span<std::uint8_t> out) {
    if (phase_ == Phase::kDone) return 0;
    Writer w(out.data(), std::min<std::size_t>(out.size(), 65535 - kTsigRoom));
    w.u16(id_);
    w.u16(static_cast<std::uint16_t>(0x8000 | 0x0400 | (rd_ ? 0x0100 : 0)));  // QR AA (RD)
    w.u16(1);
    w.u16(0);  // ANCOUNT, patched
    w.u16(0);
    w.u16(0);
    w.bytes(question_.data(), question_.size());
    w.remember(kHeaderSize);
    std::uint16_t an = 0;
    const auto* origin = reinterpret_cast<const std::uint8_t*>(zone_.origin.data());
    // One record; false (and nothing written) when it does not fit.
    auto put = [&](const std::uint8_t* owner, std::uint16_t type, std::uint32_t ttl,
                   const Record& rec) {
        const std::size_t at = w.size();
        w.name(owner);
        w.u16(type);
        w.u16(klass::IN);
        w.u32(ttl);
        write_rdata(w, rec);
        if (w.overflowed()) {
            w.truncate_to(at);
            return false;
        }
        ++an;
        ++records_;
        return true;
    };
    auto full = [&] { return w.size() >= kTargetMessage; };
    if (phase_ == Phase::kFirstSoa) {
        put(origin, type::SOA, zone_.soa->ttl, zone_.soa->records.front());
        phase_ = Phase::kNames;
    }
    while (phase_ == Phase::kNames && !full()) {
        if (node_ == zone_.nodes.end()) {
            phase_ = Phase::kLastSoa;
            break;
        }
        const auto* owner = reinterpret_cast<const std::uint8_t*>(node_->first.data());
        const Node& n = node_->second;
        if (n.dynamic && dynamic_ < 2) {
            // A redirect name: what its transfer_records() export, whole
            // (a handful of addresses: they fit, or start the next message).
            const std::size_t at = w.size();
            const unsigned got =
                n.dynamic->transfer_records(dynamic_ == 0 ? type::A : type::AAAA, Owner{owner}, w);
            if (w.overflowed()) {
                w.truncate_to(at);
                if (an == 0) {  // cannot fit even alone: skip it rather than loop
                    ++dynamic_;
                    continue;
                }
                break;
            }
            an = static_cast<std::uint16_t>(an + got);
            records_ += got;
            ++dynamic_;
            continue;
        }
        if (rrset_ < n.rrsets.size()) {
            const RRset& rs = n.rrsets[rrset_];
            if (rs.type == type::SOA && node_->first == zone_.origin) {  // first and last only
                ++rrset_;
                record_ = 0;
                continue;
            }
            if (record_ < rs.records.size()) {
                if (!put(owner, rs.type, rs.ttl, rs.records[record_])) {
                    if (an == 0) {  // alone in a message and still too large: give up
                        failed_ = true;
                        phase_ = Phase::kDone;
                        return 0;
                    }
                    break;
                }
                ++record_;
                continue;
            }
            ++rrset_;
            record_ = 0;
            continue;
        }
        ++node_;
        rrset_ = record_ = 0;
        dynamic_ = 0;
    }
    if (phase_ == Phase::kLastSoa &&
        put(origin, type::SOA, zone_.soa->ttl, zone_.soa->records.front()))
        phase_ = Phase::kDone;
    w.patch16(6, an);
    return w.size();
}

IxfrStream::IxfrStream(std::shared_ptr<const void> keep, const Zone& zone, const Query& query,
                       std::span<const std::uint8_t> question, std::size_t from)
    : keep_(std::move(keep)),
      zone_(zone),
      id_(query.id),
      rd_((query.flags & 0x0100) != 0),
      question_(question.begin(), question.end()) {
    const auto* origin = reinterpret_cast<const std::uint8_t*>(zone.origin.data());
    auto soa = [&](const RRset& rs) {
        items_.push_back({origin, type::SOA, rs.ttl, &rs.records.front()});
    };
    soa(*zone.soa);
    if (from >= zone.history.size()) return;  // current: the SOA alone
    for (std::size_t k = from; k < zone.history.size(); ++k) {
        const ZoneDiff& d = *zone.history[k];
        soa(d.from_soa);
        for (const auto& c : d.deleted)
            items_.push_back(
                {reinterpret_cast<const std::uint8_t*>(c.owner.data()), c.type, c.ttl, &c.record});
        soa(d.to_soa);
        for (const auto& c : d.added)
            items_.push_back(
                {reinterpret_cast<const std::uint8_t*>(c.owner.data()), c.type, c.ttl, &c.record});
    }
    soa(*zone.soa);
}

std::size_t IxfrStream::next(std::span<std::uint8_t> out) {
    if (at_ >= items_.size() || failed_) return 0;
    Writer w(out.data(), std::min<std::size_t>(out.size(), 65535 - kTsigRoom));
    w.u16(id_);
    w.u16(static_cast<std::uint16_t>(0x8000 | 0x0400 | (rd_ ? 0x0100 : 0)));
    w.u16(1);
    w.u16(0);
    w.u16(0);
    w.u16(0);
    w.bytes(question_.data(), question_.size());
    w.remember(kHeaderSize);
    std::uint16_t an = 0;
    while (at_ < items_.size() && w.size() < AxfrStream::kTargetMessage) {
        const Item& it = items_[at_];
        const std::size_t mark = w.size();
        w.name(it.owner);
        w.u16(it.type);
        w.u16(klass::IN);
        w.u32(it.ttl);
        write_rdata(w, *it.record);
        if (w.overflowed()) {
            w.truncate_to(mark);
            if (an == 0) {
                failed_ = true;
                return 0;
            }
            break;
        }
        ++an;
        ++at_;
    }
    w.patch16(6, an);
    return w.size();
}

}  // namespace zone
}  // namespace signpost::dnsd
