#include "dnsd/state.hpp"

#include "common/log.hpp"
#include "dnsd/zone_loader.hpp"

namespace signpost::dnsd {

std::shared_ptr<const ServingState> build_state(const Config& config, std::uint64_t generation,
                                                std::string& error,
                                                std::vector<std::string>& warnings) {
    auto st = std::make_shared<ServingState>();
    st->generation = generation;
    st->options.edns_payload = config.edns_payload;
    for (const auto& zc : config.zones) {
        auto res = load_zone_file(zc.name, zc.file);
        warnings.insert(warnings.end(), res.warnings.begin(), res.warnings.end());
        if (!res.zone) {
            error = res.error;
            return nullptr;
        }
        st->zones.add(std::move(res.zone));
    }
    return st;
}

std::string StateReloader::reload() {
    std::lock_guard lock(mu_);
    std::string error;
    auto config = load_config(path_, error);
    std::vector<std::string> warnings;
    std::shared_ptr<const ServingState> next;
    const auto current = state_.load();
    if (config) next = build_state(*config, current->generation + 1, error, warnings);
    for (const auto& w : warnings) SP_LOG_WARN("%s", w.c_str());
    if (!next) {
        ++failures_;
        SP_LOG_ERROR("reload refused, still serving generation %llu: %s",
                     static_cast<unsigned long long>(current->generation), error.c_str());
        return error;
    }
    state_.publish(next);
    ++reloads_;
    for (const auto& z : next->zones.all())
        SP_LOG_INFO("zone %s serial %u from %s",
                    name_to_text(reinterpret_cast<const std::uint8_t*>(z->origin.data())).c_str(),
                    z->serial, z->file.c_str());
    SP_LOG_INFO("published generation %llu", static_cast<unsigned long long>(next->generation));
    return {};
}

}  // namespace signpost::dnsd
