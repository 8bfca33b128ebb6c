#include "common/country_continent.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace signpost::common {
namespace {

struct Entry {
    char country[3];
    char continent[3];
};

// 252 entries: every ISO 3166-1 code plus XK (Kosovo), EU and AP, which registries use.
constexpr Entry kTable[] = {
    {"AD", "EU"}, {"AE", "AS"}, {"AF", "AS"}, {"AG", "NA"}, {"AI", "NA"}, {"AL", "EU"},
    {"AM", "AS"}, {"AO", "AF"}, {"AP", "AS"}, {"AQ", "AN"}, {"AR", "SA"}, {"AS", "OC"},
    {"AT", "EU"}, {"AU", "OC"}, {"AW", "NA"}, {"AX", "EU"}, {"AZ", "AS"}, {"BA", "EU"},
    {"BB", "NA"}, {"BD", "AS"}, {"BE", "EU"}, {"BF", "AF"}, {"BG", "EU"}, {"BH", "AS"},
    {"BI", "AF"}, {"BJ", "AF"}, {"BL", "NA"}, {"BM", "NA"}, {"BN", "AS"}, {"BO", "SA"},
    {"BQ", "NA"}, {"BR", "SA"}, {"BS", "NA"}, {"BT", "AS"}, {"BV", "AN"}, {"BW", "AF"},
    {"BY", "EU"}, {"BZ", "NA"}, {"CA", "NA"}, {"CC", "AS"}, {"CD", "AF"}, {"CF", "AF"},
    {"CG", "AF"}, {"CH", "EU"}, {"CI", "AF"}, {"CK", "OC"}, {"CL", "SA"}, {"CM", "AF"},
    {"CN", "AS"}, {"CO", "SA"}, {"CR", "NA"}, {"CU", "NA"}, {"CV", "AF"}, {"CW", "NA"},
    {"CX", "OC"}, {"CY", "EU"}, {"CZ", "EU"}, {"DE", "EU"}, {"DJ", "AF"}, {"DK", "EU"},
    {"DM", "NA"}, {"DO", "NA"}, {"DZ", "AF"}, {"EC", "SA"}, {"EE", "EU"}, {"EG", "AF"},
    {"EH", "AF"}, {"ER", "AF"}, {"ES", "EU"}, {"ET", "AF"}, {"EU", "EU"}, {"FI", "EU"},
    {"FJ", "OC"}, {"FK", "SA"}, {"FM", "OC"}, {"FO", "EU"}, {"FR", "EU"}, {"GA", "AF"},
    {"GB", "EU"}, {"GD", "NA"}, {"GE", "AS"}, {"GF", "SA"}, {"GG", "EU"}, {"GH", "AF"},
    {"GI", "EU"}, {"GL", "NA"}, {"GM", "AF"}, {"GN", "AF"}, {"GP", "NA"}, {"GQ", "AF"},
    {"GR", "EU"}, {"GS", "AN"}, {"GT", "NA"}, {"GU", "OC"}, {"GW", "AF"}, {"GY", "SA"},
    {"HK", "AS"}, {"HM", "AN"}, {"HN", "NA"}, {"HR", "EU"}, {"HT", "NA"}, {"HU", "EU"},
    {"ID", "AS"}, {"IE", "EU"}, {"IL", "AS"}, {"IM", "EU"}, {"IN", "AS"}, {"IO", "AS"},
    {"IQ", "AS"}, {"IR", "AS"}, {"IS", "EU"}, {"IT", "EU"}, {"JE", "EU"}, {"JM", "NA"},
    {"JO", "AS"}, {"JP", "AS"}, {"KE", "AF"}, {"KG", "AS"}, {"KH", "AS"}, {"KI", "OC"},
    {"KM", "AF"}, {"KN", "NA"}, {"KP", "AS"}, {"KR", "AS"}, {"KW", "AS"}, {"KY", "NA"},
    {"KZ", "AS"}, {"LA", "AS"}, {"LB", "AS"}, {"LC", "NA"}, {"LI", "EU"}, {"LK", "AS"},
    {"LR", "AF"}, {"LS", "AF"}, {"LT", "EU"}, {"LU", "EU"}, {"LV", "EU"}, {"LY", "AF"},
    {"MA", "AF"}, {"MC", "EU"}, {"MD", "EU"}, {"ME", "EU"}, {"MF", "NA"}, {"MG", "AF"},
    {"MH", "OC"}, {"MK", "EU"}, {"ML", "AF"}, {"MM", "AS"}, {"MN", "AS"}, {"MO", "AS"},
    {"MP", "OC"}, {"MQ", "NA"}, {"MR", "AF"}, {"MS", "NA"}, {"MT", "EU"}, {"MU", "AF"},
    {"MV", "AS"}, {"MW", "AF"}, {"MX", "NA"}, {"MY", "AS"}, {"MZ", "AF"}, {"NA", "AF"},
    {"NC", "OC"}, {"NE", "AF"}, {"NF", "OC"}, {"NG", "AF"}, {"NI", "NA"}, {"NL", "EU"},
    {"NO", "EU"}, {"NP", "AS"}, {"NR", "OC"}, {"NU", "OC"}, {"NZ", "OC"}, {"OM", "AS"},
    {"PA", "NA"}, {"PE", "SA"}, {"PF", "OC"}, {"PG", "OC"}, {"PH", "AS"}, {"PK", "AS"},
    {"PL", "EU"}, {"PM", "NA"}, {"PN", "OC"}, {"PR", "NA"}, {"PS", "AS"}, {"PT", "EU"},
    {"PW", "OC"}, {"PY", "SA"}, {"QA", "AS"}, {"RE", "AF"}, {"RO", "EU"}, {"RS", "EU"},
    {"RU", "EU"}, {"RW", "AF"}, {"SA", "AS"}, {"SB", "OC"}, {"SC", "AF"}, {"SD", "AF"},
    {"SE", "EU"}, {"SG", "AS"}, {"SH", "AF"}, {"SI", "EU"}, {"SJ", "EU"}, {"SK", "EU"},
    {"SL", "AF"}, {"SM", "EU"}, {"SN", "AF"}, {"SO", "AF"}, {"SR", "SA"}, {"SS", "AF"},
    {"ST", "AF"}, {"SV", "NA"}, {"SX", "NA"}, {"SY", "AS"}, {"SZ", "AF"}, {"TC", "NA"},
    {"TD", "AF"}, {"TF", "AN"}, {"TG", "AF"}, {"TH", "AS"}, {"TJ", "AS"}, {"TK", "OC"},
    {"TL", "AS"}, {"TM", "AS"}, {"TN", "AF"}, {"TO", "OC"}, {"TR", "AS"}, {"TT", "NA"},
    {"TV", "OC"}, {"TW", "AS"}, {"TZ", "AF"}, {"UA", "EU"}, {"UG", "AF"}, {"UM", "OC"},
    {"US", "NA"}, {"UY", "SA"}, {"UZ", "AS"}, {"VA", "EU"}, {"VC", "NA"}, {"VE", "SA"},
    {"VG", "NA"}, {"VI", "NA"}, {"VN", "AS"}, {"VU", "OC"}, {"WF", "OC"}, {"WS", "OC"},
    {"XK", "EU"}, {"YE", "AS"}, {"YT", "AF"}, {"ZA", "AF"}, {"ZM", "AF"}, {"ZW", "AF"},
};

}  // namespace

namespace {
// Direct index by the two letters (26 x 26): the lookup runs per geoipd answer.
struct Index {
    std::uint8_t entry[26 * 26];  // 1 + position in kTable, 0 when absent
    constexpr Index() : entry{} {
        for (std::size_t i = 0; i < std::size(kTable); ++i)
            entry[(kTable[i].country[0] - 'A') * 26 + (kTable[i].country[1] - 'A')] =
                static_cast<std::uint8_t>(i + 1);
    }
};
constexpr Index kIndex;
}  // namespace

std::string_view continent_of_country(std::string_view iso_code) {
    if (iso_code.size() != 2) return {};
    const unsigned a = static_cast<unsigned char>(iso_code[0]) - 'A';
    const unsigned b = static_cast<unsigned char>(iso_code[1]) - 'A';
    if (a >= 26 || b >= 26) return {};
    const unsigned e = kIndex.entry[a * 26 + b];
    if (e == 0) return {};
    return std::string_view(kTable[e - 1].continent, 2);
}

bool is_continent(std::string_view code) {
    for (std::string_view c : {"AF", "AN", "AS", "EU", "NA", "OC", "SA"})
        if (code == c) return true;
    return false;
}

bool country_table_is_sorted() {
    return std::adjacent_find(
               std::begin(kTable), std::end(kTable), [](const Entry& a, const Entry& b) {
                   return std::string_view(a.country, 2) >= std::string_view(b.country, 2);
               }) == std::end(kTable);
}

}  // namespace signpost::common
