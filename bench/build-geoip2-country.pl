#!/usr/bin/perl
# Writes "prefix<TAB>country<TAB>continent" lines (from mmdb_dump) as a
# GeoIP2-Country-layout database, the schema gdnsd's geoip plugin reads.
#   bench/build-geoip2-country.pl OUT.mmdb < networks.tsv
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: $0 OUT.mmdb < networks.tsv\n";
my %types = (country => 'map', continent => 'map', iso_code => 'utf8_string', code => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6, record_size => 28, database_type => 'GeoIP2-Country',
    languages => ['en'], description => { en => 'CC0 ip-location-db country data, GeoIP2 layout' },
    map_key_type_callback => sub { $types{ $_[0] } }, merge_strategy => 'none',
    alias_ipv6_to_ipv4 => 1,
);
my %rec;
my $n = 0;
while (my $line = <STDIN>) {
    chomp $line;
    my ($net, $cc, $cont) = split /\t/, $line;
    my $r = $rec{"$cc$cont"} //= { country => { iso_code => $cc }, continent => { code => $cont } };
    $tree->insert_network($net, $r);
    $n++;
}
open my $fh, '>:raw', "$out.tmp" or die "$out.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "close: $!\n";
rename "$out.tmp", $out or die "rename: $!\n";
print STDERR "build-geoip2-country: $n networks -> $out\n";
