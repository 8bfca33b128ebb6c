#pragma once
// ISO 3166-1 alpha-2 country code -> continent code, for databases that carry
// a country but no continent (ip-location-db, DB-IP lite country files), and
// the codes a map may name (dnsd refuses any other).
// Assignments follow GeoNames/MaxMind: Russia EU, Turkey AS, Cyprus EU, the
// Caucasus AS, Timor-Leste AS, Antarctic territories AN.

#include <string_view>

namespace signpost::common {

// Empty when the code is unknown. Case-sensitive: codes are upper case.
std::string_view continent_of_country(std::string_view iso_code);

// The seven continent codes: AF AN AS EU NA OC SA.
bool is_continent(std::string_view code);

// True when the table is strictly sorted (checked by a unit test, because the
// lookup is a binary search).
bool country_table_is_sorted();

}  // namespace signpost::common
