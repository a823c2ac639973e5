/*
 * The C baseline for Sniff's benchmarks: mmap a classic pcap, decode Ethernet
 * (with 802.1Q), IPv4/IPv6, TCP/UDP, and count packets and bytes per bidirectional
 * 5-tuple in an open-addressing hash table. No output per packet.
 *
 *   cc -O2 -o flowcount flowcount.c && ./flowcount FILE
 *
 * It is what a careful hand-written loop costs; Sniff's goals are stated as ratios to it.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct key { uint64_t a_hi, a_lo, b_hi, b_lo; uint16_t pa, pb; uint8_t proto, used; };
struct slot { struct key k; uint64_t packets, bytes; };

static struct slot *table;
static uint64_t cap, count;

static inline uint64_t rd16(const uint8_t *p) { return (uint64_t)p[0] << 8 | p[1]; }
static inline uint64_t rd32(const uint8_t *p) { return rd16(p) << 16 | rd16(p + 2); }
static inline uint64_t rd64(const uint8_t *p) { return rd32(p) << 32 | rd32(p + 4); }

static inline uint64_t hash(const struct key *k) {
    uint64_t h = k->a_hi * 0x9E3779B97F4A7C15ULL ^ k->a_lo * 0xC2B2AE3D27D4EB4FULL;
    h ^= k->b_hi * 0x165667B19E3779F9ULL ^ k->b_lo * 0x27D4EB2F165667C5ULL;
    h ^= ((uint64_t)k->pa << 24 | (uint64_t)k->pb << 8 | k->proto) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

static void grow(void);

static void add(struct key *k, uint64_t bytes) {
    /* Order the endpoints so both directions share a key. */
    if (k->a_hi > k->b_hi || (k->a_hi == k->b_hi && (k->a_lo > k->b_lo || (k->a_lo == k->b_lo && k->pa > k->pb)))) {
        uint64_t t = k->a_hi; k->a_hi = k->b_hi; k->b_hi = t;
        t = k->a_lo; k->a_lo = k->b_lo; k->b_lo = t;
        uint16_t p = k->pa; k->pa = k->pb; k->pb = p;
    }
    k->used = 1;
    if ((count + 1) * 10 > cap * 7) grow();
    uint64_t i = hash(k) & (cap - 1);
    for (;;) {
        struct slot *s = &table[i];
        if (!s->k.used) { s->k = *k; s->packets = 1; s->bytes = bytes; count++; return; }
        if (s->k.a_lo == k->a_lo && s->k.b_lo == k->b_lo && s->k.a_hi == k->a_hi && s->k.b_hi == k->b_hi &&
            s->k.pa == k->pa && s->k.pb == k->pb && s->k.proto == k->proto) { s->packets++; s->bytes += bytes; return; }
        i = (i + 1) & (cap - 1);
    }
}

static void grow(void) {
    struct slot *old = table; uint64_t oldcap = cap;
    cap = cap ? cap * 2 : 1 << 16;
    table = calloc(cap, sizeof *table);
    for (uint64_t j = 0; j < oldcap; j++) if (old[j].k.used) {
        uint64_t i = hash(&old[j].k) & (cap - 1);
        while (table[i].k.used) i = (i + 1) & (cap - 1);
        table[i] = old[j];
    }
    free(old);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: flowcount FILE.pcap\n"); return 64; }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror(argv[1]); return 1; }
    struct stat st; fstat(fd, &st);
    const uint8_t *m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }
    madvise((void *)m, st.st_size, MADV_SEQUENTIAL);
    if (st.st_size < 24 || *(const uint32_t *)m != 0xA1B2C3D4) { fprintf(stderr, "not a little-endian pcap\n"); return 1; }
    grow();
    uint64_t off = 24, packets = 0, other = 0;
    while (off + 16 <= (uint64_t)st.st_size) {
        uint32_t caplen = *(const uint32_t *)(m + off + 8), len = *(const uint32_t *)(m + off + 12);
        const uint8_t *p = m + off + 16;
        off += 16 + caplen;
        if (off > (uint64_t)st.st_size) break;
        packets++;
        if (caplen < 14) { other++; continue; }
        uint32_t et = rd16(p + 12), l = 14;
        while ((et == 0x8100 || et == 0x88a8) && caplen >= l + 4) { et = rd16(p + l + 2); l += 4; }
        struct key k; memset(&k, 0, sizeof k);
        uint32_t l4;
        if (et == 0x0800 && caplen >= l + 20) {
            const uint8_t *ip = p + l;
            k.a_lo = rd32(ip + 12); k.b_lo = rd32(ip + 16); k.proto = ip[9];
            l4 = l + (ip[0] & 15) * 4;
        } else if (et == 0x86dd && caplen >= l + 40) {
            const uint8_t *ip = p + l;
            k.a_hi = rd64(ip + 8); k.a_lo = rd64(ip + 16); k.b_hi = rd64(ip + 24); k.b_lo = rd64(ip + 32); k.proto = ip[6];
            l4 = l + 40;
        } else { other++; continue; }
        if ((k.proto == 6 || k.proto == 17) && caplen >= l4 + 4) { k.pa = rd16(p + l4); k.pb = rd16(p + l4 + 2); }
        add(&k, len);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%llu packets, %llu flows, %llu non-IP, %.3f s, %.2f M packets/s\n",
           (unsigned long long)packets, (unsigned long long)count, (unsigned long long)other, s, packets / s / 1e6);
    return 0;
}
