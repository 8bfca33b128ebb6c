#!/usr/bin/perl
# Builds a GeoLite2-ASN-layout database from ip-location-db ASN range files
# (CSV: first_ip,last_ip,asn,"organisation"), with MaxMind::DB::Writer.
#   scripts/build-asn-mmdb.pl OUT.mmdb asn-ipv4.csv [asn-ipv6.csv ...]
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my ($out, @csv) = @ARGV;
die "usage: $0 OUT.mmdb CSV...\n" unless $out && @csv;

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6,
    record_size => 28,
    database_type => 'GeoLite2-ASN',
    languages => ['en'],
    description => { en => 'ASN ranges from the ip-location-db asn package (signpost demo)' },
    map_key_type_callback => sub {
        { autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string' }->{ $_[0] }
    },
    merge_strategy => 'none',
);

my %orgs;    # one hash per (asn, org): identical records are stored once
my $n = 0;
for my $file (@csv) {
    open my $fh, '<:encoding(UTF-8)', $file or die "$file: $!\n";
    while (my $line = <$fh>) {
        chomp $line;
        my ($first, $last, $asn, $org) = $line =~ /^([^,]+),([^,]+),(\d+),(.*)$/
            or die "$file:$.: cannot parse '$line'\n";
        $org =~ s/^"(.*)"$/$1/;
        $org =~ s/""/"/g;
        my $rec = $orgs{"$asn\0$org"} //= {
            autonomous_system_number => $asn + 0,
            ($org ne '' ? (autonomous_system_organization => $org) : ()),
        };
        $tree->insert_range($first, $last, $rec);
        $n++;
    }
}
open my $fh, '>:raw', "$out.tmp" or die "$out.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "close: $!\n";
rename "$out.tmp", $out or die "rename: $!\n";
print STDERR "build-asn-mmdb: $n ranges -> $out\n";
