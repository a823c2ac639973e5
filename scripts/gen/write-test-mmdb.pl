#!/usr/bin/perl
# Writes small MaxMind DB files for the tests (no downloaded database in the repo):
#   write-test-mmdb.pl DIR
# makes DIR/Test-City.mmdb (database_type "Sniff-Test-City"), DIR/Test-ASN.mmdb
# ("Sniff-Test-ASN") and DIR/Test-Other.mmdb ("Sniff-Test-Anonymous-IP", a kind Sniff
# does not read). Networks are public ranges, so that Sniff asks the database about them.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $dir = shift or die "usage: $0 DIR\n";

sub write_tree {
    my ($file, $type, $types, $records) = @_;
    my $tree = MaxMind::DB::Writer::Tree->new(
        ip_version            => 6,
        record_size           => 24,
        database_type         => $type,
        languages             => ['en'],
        description           => { en => 'Sniff test database' },
        map_key_type_callback => sub { $types->{ $_[0] } },
        remove_reserved_networks => 0,
    );
    $tree->insert_network($_->[0], $_->[1]) for @$records;
    open my $fh, '>:raw', "$dir/$file" or die "$dir/$file: $!\n";
    $tree->write_tree($fh);
    close $fh or die "$dir/$file: $!\n";
}

my %city_types = (
    country => 'map', registered_country => 'map', city => 'map', names => 'map',
    iso_code => 'utf8_string', en => 'utf8_string',
);
write_tree('Test-City.mmdb', 'Sniff-Test-City', \%city_types, [
    ['8.8.8.0/24',  { country => { iso_code => 'US' }, city => { names => { en => 'Mountain View' } } }],
    ['81.2.69.0/24', { country => { iso_code => 'GB' }, city => { names => { en => 'London' } } }],
    ['2a02:1000::/32', { country => { iso_code => 'DE' } }],
    ['5.5.5.0/24',  { registered_country => { iso_code => 'FR' } }],
    # The DNS server of ../shared/pcaps/dns_tcp.pcap; made-up facts.
    ['209.87.249.0/24', { country => { iso_code => 'CA' } }],
    # The ends of ../shared/pcaps/tcp-handshake-nano.pcap (two countries) and of
    # icmp-rfc8335.pcap (one country, two ASes); made-up facts.
    ['131.155.0.0/16', { country => { iso_code => 'NL' } }],
    ['137.116.0.0/16', { country => { iso_code => 'IE' } }],
    ['149.28.0.0/16', { country => { iso_code => 'US' } }],
    ['204.194.23.0/24', { country => { iso_code => 'US' } }],
]);

my %asn_types = (autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string');
write_tree('Test-ASN.mmdb', 'Sniff-Test-ASN', \%asn_types, [
    ['8.8.8.0/24', { autonomous_system_number => 15169, autonomous_system_organization => 'Google LLC' }],
    ['81.2.69.0/24', { autonomous_system_number => 20712, autonomous_system_organization => 'Andrews & Arnold Ltd' }],
    ['2a02:1000::/32', { autonomous_system_number => 3320, autonomous_system_organization => "Deutsche Telekom AG" }],
    ['209.87.249.0/24', { autonomous_system_number => 64500, autonomous_system_organization => 'Sniff Test Network' }],
    ['131.155.0.0/16', { autonomous_system_number => 64501, autonomous_system_organization => 'Sniff Test University' }],
    ['137.116.0.0/16', { autonomous_system_number => 64502, autonomous_system_organization => 'Sniff Test Cloud' }],
    ['149.28.0.0/16', { autonomous_system_number => 64503, autonomous_system_organization => 'Sniff Test Hosting' }],
    ['204.194.23.0/24', { autonomous_system_number => 64504, autonomous_system_organization => 'Sniff Test <b>ISP</b>' }],
]);

write_tree('Test-Other.mmdb', 'Sniff-Test-Anonymous-IP', { is_anonymous => 'boolean' }, [
    ['8.8.8.0/24', { is_anonymous => 1 }],
]);
