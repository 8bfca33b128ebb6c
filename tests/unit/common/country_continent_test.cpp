#include "common/country_continent.hpp"

#include <gtest/gtest.h>

using signpost::common::continent_of_country;

TEST(CountryContinent, TableIsSortedForBinarySearch) {
    EXPECT_TRUE(signpost::common::country_table_is_sorted());
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

TEST(CountryContinent, TheSevenContinents) {
    for (const char* c : {"AF", "AN", "AS", "EU", "NA", "OC", "SA"})
        EXPECT_TRUE(signpost::common::is_continent(c)) << c;
    for (const char* c : {"", "E", "EUR", "eu", "XX", "AP", "DE"})
        EXPECT_FALSE(signpost::common::is_continent(c)) << c;
}
