#include "geoipd/country_continent.hpp"

#include <gtest/gtest.h>

using signpost::geoipd::continent_of_country;

TEST(CountryContinent, TableIsSortedForBinarySearch) {
    EXPECT_TRUE(signpost::geoipd::country_table_is_sorted());
}

TEST(CountryContinent, KnownAssignments) {
    EXPECT_EQ(continent_of_country("GB"), "EU");
    EXPECT_EQ(continent_of_country("US"), "NA");
    EXPECT_EQ(continent_of_country("BR"), "SA");
    EXPECT_EQ(continent_of_country("JP"), "AS");
    EXPECT_EQ(continent_of_country("AU"), "OC");
    EXPECT_EQ(continent_of_country("ZA"), "AF");
    EXPECT_EQ(continent_of_country("AQ"), "AN");
    EXPECT_EQ(continent_of_country("RU"), "EU");
    EXPECT_EQ(continent_of_country("AD"), "EU");  // first entry
    EXPECT_EQ(continent_of_country("ZW"), "AF");  // last entry
}

TEST(CountryContinent, UnknownIsEmpty) {
    EXPECT_EQ(continent_of_country("ZZ"), "");
    EXPECT_EQ(continent_of_country("gb"), "");
    EXPECT_EQ(continent_of_country(""), "");
    EXPECT_EQ(continent_of_country("GBR"), "");
}
