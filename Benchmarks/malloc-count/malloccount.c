/*
 * Counts heap allocations for Sniff's benchmarks. Preload it:
 *
 *   cc -O2 -shared -fPIC -o libmalloccount.so malloccount.c -ldl
 *   LD_PRELOAD=./libmalloccount.so sniff-bench --alloc-check
 *
 * sniff-bench finds `sniff_malloc_count` with dlsym and reads it around the hot
 * loop. Counting only: every call is forwarded to the real allocator.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

static uint64_t count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

/* dlsym may itself call calloc before real_calloc is known: serve it from here. */
static char bootstrap[4096];
static size_t bootstrap_used;

uint64_t sniff_malloc_count(void) { return __atomic_load_n(&count, __ATOMIC_RELAXED); }

static void init(void) {
    if (real_malloc) return;
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
}

void *malloc(size_t n) {
    init();
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return real_malloc(n);
}

void *calloc(size_t a, size_t b) {
    if (!real_calloc) {
        size_t n = (a * b + 15) & ~(size_t)15;
        if (bootstrap_used + n > sizeof bootstrap) return NULL;
        void *p = bootstrap + bootstrap_used;
        bootstrap_used += n;
        return p;
    }
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return real_calloc(a, b);
}

void *realloc(void *p, size_t n) {
    init();
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return real_realloc(p, n);
}

int posix_memalign(void **p, size_t a, size_t n) {
    init();
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return real_posix_memalign(p, a, n);
}

void *aligned_alloc(size_t a, size_t n) {
    init();
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return real_aligned_alloc(a, n);
}

void free(void *p) {
    static void (*real_free)(void *);
    if ((char *)p >= bootstrap && (char *)p < bootstrap + sizeof bootstrap) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(p);
}
