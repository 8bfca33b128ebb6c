#!/usr/bin/perl
# Generates the project's test databases with MaxMind::DB::Writer.
# Deterministic: fixed build epoch, fixed inputs, so the same files every run.
#
#   tests/data/gen-testdb.pl OUTDIR
#
# city.mmdb       GeoIP2-City layout (country.iso_code, continent.code, location.*),
#                 IPv4 + IPv6, nested prefixes, records with missing fields, and
#                 2,048 separate /24s in 172.16.0.0/13 (more prefixes than a
#                 cache of 1,024 holds) alternating DE/EU and US/NA
# city-b.mmdb     the same networks with other answers (for reload tests)
# asn.mmdb        GeoLite2-ASN layout (autonomous_system_number/_organization)
# flat.mmdb       ip-location-db layout (country_code only, no continent)
# v4only.mmdb     an IPv4-only tree (ip_version 4)
# expected.tsv    address <TAB> variant <TAB> expected prefix, country, continent, asn
#                 (read by the system tests, so expectations live with the data)
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: $0 OUTDIR\n";
-d $out or mkdir $out or die "mkdir $out: $!\n";

my %types = (
    country => 'map', continent => 'map', location => 'map', registered_country => 'map',
    names => 'map', en => 'utf8_string', iso_code => 'utf8_string', code => 'utf8_string',
    geoname_id => 'uint32', latitude => 'double', longitude => 'double', accuracy_radius => 'uint16',
    autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string',
    country_code => 'utf8_string',
);

sub tree {
    my (%args) = @_;
    my $t = MaxMind::DB::Writer::Tree->new(
        ip_version => $args{ip_version} // 6,
        record_size => 28,
        database_type => $args{type},
        languages => ['en'],
        description => { en => "signpost test database ($args{type})" },
        map_key_type_callback => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
        remove_reserved_networks => 0,   # the test data lives in documentation ranges
        # As MaxMind's own databases: ::ffff:0:0/96, 2001::/32 and 2002::/16
        # point at the IPv4 tree (the *-aliased.mmdb files).
        alias_ipv6_to_ipv4 => $args{alias} // 0,
        merge_strategy => 'none',        # a more specific insert replaces, within its range
    );
    $t->_set_build_epoch($args{epoch} // 1700000000);
    return $t;
}

sub write_tree {
    my ($t, $name) = @_;
    open my $fh, '>:raw', "$out/$name.tmp" or die "$out/$name.tmp: $!\n";
    $t->write_tree($fh);
    close $fh or die "close: $!\n";
    rename "$out/$name.tmp", "$out/$name" or die "rename: $!\n";
}

sub city_record {
    my ($cc, $cont, $lat, $lon, $radius) = @_;
    my %r;
    $r{country} = { iso_code => $cc, names => { en => "Country $cc" } } if defined $cc;
    $r{continent} = { code => $cont } if defined $cont;
    $r{location} = { latitude => $lat, longitude => $lon } if defined $lat;
    $r{location}{accuracy_radius} = $radius if defined $lat && defined $radius;
    return \%r;
}

# network, then [country, continent, lat, lon] for variant a and variant b.
# Nested: 10/8 > 10.1/16 > 10.1.2/24; 2001:db8::/32 > 2001:db8:1::/48 > 2001:db8:1:2::/64.
# Missing fields: 192.0.2/24 has no location; 198.51.100/24 no continent;
# 2001:db8:ff::/48 no location.
my @city = (
    ['10.0.0.0/8',        ['US', 'NA', 37.75, -97.82],  ['CA', 'NA', 43.65, -79.38]],
    ['10.1.0.0/16',       ['DE', 'EU', 51.3, 9.49],     ['IT', 'EU', 41.9, 12.5]],
    ['10.1.2.0/24',       ['FR', 'EU', 48.86, 2.35],    ['ES', 'EU', 40.42, -3.7]],
    ['81.2.69.0/24',      ['GB', 'EU', 51.51, -0.09],   ['IE', 'EU', 53.35, -6.26]],
    ['192.0.2.0/24',      ['JP', 'AS', undef, undef],   ['KR', 'AS', undef, undef]],
    ['198.51.100.0/24',   ['BR', undef, -23.5, -46.6],  ['AR', undef, -34.6, -58.4]],
    ['2001:db8::/32',     ['US', 'NA', 37.75, -97.82],  ['MX', 'NA', 19.43, -99.13]],
    ['2001:db8:1::/48',   ['DE', 'EU', 51.3, 9.49],     ['NL', 'EU', 52.37, 4.9]],
    ['2001:db8:1:2::/64', ['FR', 'EU', 48.86, 2.35],    ['BE', 'EU', 50.85, 4.35]],
    ['2001:db8:ff::/48',  ['AU', 'OC', undef, undef],   ['NZ', 'OC', undef, undef]],
);

# Variants a and b, and a's data with MaxMind's IPv6-to-IPv4 aliases.
for my $variant (0, 1, 2) {
    my $t = tree(type => 'GeoIP2-City', epoch => 1700000000 + $variant, alias => $variant == 2);
    for my $row (@city) {
        $t->insert_network($row->[0], city_record(@{ $row->[ 1 + $variant ] }));
    }
    for my $i (0 .. 2047) {
        my @eu = ('DE', 'EU', 51.3, 9.49);
        my @na = ('US', 'NA', 37.75, -97.82);
        $t->insert_network(sprintf('172.%d.%d.0/24', 16 + ($i >> 8), $i & 255),
                           city_record(($i + ($variant == 1)) % 2 ? @na : @eu));
    }
    write_tree($t, ('city.mmdb', 'city-b.mmdb', 'city-aliased.mmdb')[$variant]);
}

for my $aliased (0, 1) {
    my $asn = tree(type => 'GeoLite2-ASN', alias => $aliased);
    $asn->insert_network('10.0.0.0/8', { autonomous_system_number => 64500,
                                          autonomous_system_organization => 'Example Net A' });
    $asn->insert_network('10.1.0.0/16', { autonomous_system_number => 64501,
                                           autonomous_system_organization => 'Example "Net" B' });
    $asn->insert_network('81.2.69.0/25', { autonomous_system_number => 20712,
                                            autonomous_system_organization => 'Andrews & Arnold Ltd' });
    $asn->insert_network('2001:db8::/32', { autonomous_system_number => 64510,
                                             autonomous_system_organization => 'Example v6 Net' });
    # An ASN record without organisation (missing field).
    $asn->insert_network('203.0.113.0/24', { autonomous_system_number => 64511 });
    write_tree($asn, $aliased ? 'asn-aliased.mmdb' : 'asn.mmdb');
}

my $flat = tree(type => 'ip-location-db country');
$flat->insert_network('203.0.113.0/24', { country_code => 'NZ' });
$flat->insert_network('10.0.0.0/8', { country_code => 'CA' });
$flat->insert_network('2001:db8::/32', { country_code => 'GB' });
write_tree($flat, 'flat.mmdb');

my $v4 = tree(type => 'ip-location-db country ipv4', ip_version => 4);
$v4->insert_network('203.0.113.0/24', { country_code => 'AU' });
write_tree($v4, 'v4only.mmdb');

# cities.mmdb: known cities for signpost-mapgen (country centres weighted by
# addresses: Lisbon /16 and Porto /20; New York /16 and San Jose /20); JP has
# no location (the shipped table places it), NG says 0,0 (GeoIP's
# "somewhere": unknown, so the shipped table too). Locations carry MaxMind's
# accuracy_radius (km); 10.23.0/24 is a vague one (1000 km, "somewhere in
# Portugal" put near Frankfurt), over the default 500 km bound: it counts
# towards no centre, and its clients pass a nearest tier.
my $cities = tree(type => 'GeoIP2-City', epoch => 1700000100);
for my $row (['10.10.0.0/16', 'PT', 'EU', 38.72, -9.14, 20], ['10.11.0.0/20', 'PT', 'EU', 41.15, -8.61, 50],
             ['10.12.0.0/16', 'ES', 'EU', 40.42, -3.70], ['10.13.0.0/16', 'DE', 'EU', 50.11, 8.68],
             ['10.14.0.0/16', 'DE', 'EU', 52.52, 13.40], ['10.15.0.0/16', 'FR', 'EU', 48.86, 2.35],
             ['10.16.0.0/16', 'GB', 'EU', 51.51, -0.13], ['10.17.0.0/16', 'US', 'NA', 40.71, -74.01],
             ['10.18.0.0/20', 'US', 'NA', 37.34, -121.89], ['10.19.0.0/16', 'BR', 'SA', -23.55, -46.63],
             ['10.20.0.0/16', 'JP', 'AS', undef, undef], ['10.21.0.0/16', 'NG', 'AF', 0, 0],
             ['10.22.0.0/16', 'AU', 'OC', -33.87, 151.21], ['2001:db8:30::/48', 'PT', 'EU', 38.72, -9.14],
             ['10.23.0.0/24', 'PT', 'EU', 50.0, 9.0, 1000]) {
    $cities->insert_network($row->[0], city_record(@{$row}[1 .. 5]));
}
write_tree($cities, 'cities.mmdb');

# Expectations for geoipd serving city(-b) + asn, in that order.
open my $fh, '>', "$out/expected.tsv" or die "$out/expected.tsv: $!\n";
print $fh "# address\tvariant\tprefix\tcountry\tcontinent\tasn\n";
my @exp = (
    # address         a: prefix country continent asn           b: same
    ['10.0.0.1',      ['10.0.0.0/16', 'US', 'NA', 64500],  ['10.0.0.0/16', 'CA', 'NA', 64500]],
    ['10.1.0.1',      ['10.1.0.0/23', 'DE', 'EU', 64501],  ['10.1.0.0/23', 'IT', 'EU', 64501]],
    ['10.1.2.3',      ['10.1.2.0/24', 'FR', 'EU', 64501],  ['10.1.2.0/24', 'ES', 'EU', 64501]],
    ['81.2.69.142',   ['81.2.69.128/25', 'GB', 'EU', 0],   ['81.2.69.128/25', 'IE', 'EU', 0]],
    ['81.2.69.1',     ['81.2.69.0/25', 'GB', 'EU', 20712], ['81.2.69.0/25', 'IE', 'EU', 20712]],
    ['192.0.2.9',     ['192.0.2.0/24', 'JP', 'AS', 0],     ['192.0.2.0/24', 'KR', 'AS', 0]],
    ['198.51.100.7',  ['198.51.100.0/24', 'BR', 'SA', 0],  ['198.51.100.0/24', 'AR', 'SA', 0]],
    ['2001:db8::1',   ['2001:db8::/48', 'US', 'NA', 64510], ['2001:db8::/48', 'MX', 'NA', 64510]],
    ['2001:db8:1::5', ['2001:db8:1::/63', 'DE', 'EU', 64510], ['2001:db8:1::/63', 'NL', 'EU', 64510]],
    ['2001:db8:1:2::9', ['2001:db8:1:2::/64', 'FR', 'EU', 64510], ['2001:db8:1:2::/64', 'BE', 'EU', 64510]],
    ['2001:db8:ff::1', ['2001:db8:ff::/48', 'AU', 'OC', 64510], ['2001:db8:ff::/48', 'NZ', 'OC', 64510]],
    ['203.0.113.5',   ['203.0.113.0/24', '', '', 64511],   ['203.0.113.0/24', '', '', 64511]],
    ['8.8.8.8',       ['8.0.0.0/7', '', '', 0],            ['8.0.0.0/7', '', '', 0]],
);
for my $e (@exp) {
    for my $v (0, 1) {
        my ($p, $c, $k, $a) = @{ $e->[ 1 + $v ] };
        print $fh join("\t", $e->[0], $v ? 'b' : 'a', $p, $c, $k, $a), "\n";
    }
}
close $fh;
