/*
 * A bounded UDP load generator for Sniff's live-capture benchmark.
 *
 *   udpgen HOST PORT RATE SECONDS [PAYLOAD]
 *
 * Sends PAYLOAD-byte datagrams (default 18, i.e. 60-byte frames) to HOST:PORT at RATE
 * packets per second (0 = as fast as possible) for SECONDS, in bursts through
 * sendmmsg, and prints how many it sent. It stops by itself: at most RATE*SECONDS
 * datagrams, and never longer than SECONDS (+1 burst). Only for loopback or a network
 * namespace of your own.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: udpgen HOST PORT RATE SECONDS [PAYLOAD]\n"); return 64; }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    double rate = atof(argv[3]), seconds = atof(argv[4]);
    int payload = argc > 5 ? atoi(argv[5]) : 18;
    if (seconds <= 0 || seconds > 120 || payload < 0 || payload > 1472) { fprintf(stderr, "udpgen: bad arguments\n"); return 64; }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1) { fprintf(stderr, "udpgen: bad host\n"); return 64; }
    /* A bound socket that never reads: datagrams to a closed port would make the
     * kernel build an ICMP error for each, which costs more than the send. */
    int sink = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me = to;
    if (bind(sink, (struct sockaddr *)&me, sizeof me) != 0) { /* not local: fine */ }
    int small = 4096;
    setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    int sndbuf = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    enum { BURST = 64 };
    static char buf[BURST][1500];
    struct mmsghdr msgs[BURST];
    struct iovec iov[BURST];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BURST; i++) {
        memset(buf[i], 'u', payload);
        iov[i].iov_base = buf[i];
        iov[i].iov_len = payload;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &to;
        msgs[i].msg_hdr.msg_namelen = sizeof to;
    }
    uint64_t limit = rate > 0 ? (uint64_t)(rate * seconds) : UINT64_MAX, sent = 0;
    double start = now(), end = start + seconds;
    while (sent < limit) {
        double t = now();
        if (t >= end) break;
        if (rate > 0) {
            double due = (t - start) * rate;
            if ((double)sent >= due) { struct timespec ns = {0, 20000}; nanosleep(&ns, NULL); continue; }
        }
        int n = BURST;
        if (limit - sent < (uint64_t)n) n = (int)(limit - sent);
        int r = sendmmsg(fd, msgs, n, 0);
        if (r > 0) sent += r;
    }
    double took = now() - start;
    printf("%llu %.3f %.0f\n", (unsigned long long)sent, took, sent / took);
    return 0;
}
