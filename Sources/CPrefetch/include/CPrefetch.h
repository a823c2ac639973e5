#ifndef SNIFF_CPREFETCH_H
#define SNIFF_CPREFETCH_H

/* Cache prefetch hints, which Swift does not expose. A hint never faults and never
   changes what a program computes: a wrong or unmapped address only wastes it. */

/* The line at `p` will be read soon. */
static inline void sniff_prefetch_read(const void *p) { __builtin_prefetch(p, 0, 3); }

/* The line at `p` will be written soon (fetched for ownership). */
static inline void sniff_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }

#endif
