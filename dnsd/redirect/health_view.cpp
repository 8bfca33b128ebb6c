#include "dnsd/redirect/health_view.hpp"

namespace signpost::dnsd {
inline namespace redirect {

const HealthState* HealthFor::get(const std::shared_ptr<const HealthState>& hs,
                                  const std::shared_ptr<const EdgeSet>& edges) {
    if (!hs || !edges || !hs->edges || hs->edges == edges) return hs.get();
    if (source_ == hs && for_ == edges.get()) return &translated_;
    source_ = hs;
    for_ = edges.get();
    translated_ = HealthState{};
    translated_.edges = edges;
    translated_.warm = hs->warm;
    const auto& old = *hs->edges;
    const auto& v = hs->view;
    if (v.up_v4.empty() && v.up_v6.empty()) return &translated_;  // no view: config decides
    const std::size_t n = edges->nodes.size();
    auto& t = translated_.view;
    t.up_v4.assign(n, false);
    t.up_v6.assign(n, false);
    if (!v.keep.empty()) t.keep.assign(n, 1.0);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& node = edges->nodes[i];
        auto it = old.node_index.find(node.name);
        if (it == old.node_index.end()) {  // new node: not checked yet, the config decides
            t.up_v4[i] = node.admin_up && !node.v4.empty();
            t.up_v6[i] = node.admin_up && !node.v6.empty();
            continue;
        }
        const std::uint32_t j = it->second;
        t.up_v4[i] = j < v.up_v4.size() && v.up_v4[j] && !node.v4.empty();
        t.up_v6[i] = j < v.up_v6.size() && v.up_v6[j] && !node.v6.empty();
        if (!t.keep.empty() && j < v.keep.size()) t.keep[i] = v.keep[j];
    }
    return &translated_;
}

}  // namespace redirect
}  // namespace signpost::dnsd
