/*
 * MD5 (RFC 1321) of many buffers at once: LANES buffers are hashed in step, each in its own 32-bit
 * lane of GCC's generic vectors. The same code is compiled for AVX-512, AVX2 and the default
 * target (the vectors are split into as many registers as it has), and the best the CPU runs is
 * chosen once. Buffers are taken longest first, and a lane that finishes takes the next, so the
 * lanes stay full until the last few.
 */
#include "md5-lanes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LANES 16
#define BLOCK 64

typedef uint32_t Vec __attribute__((vector_size(LANES * 4)));

/* floor(2^32 * |sin(i + 1)|), RFC 1321 §3.4 */
static const uint32_t K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const uint32_t IV[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One lane's buffer: its whole blocks read in place, then one or two blocks of padding made here. */
typedef struct {
    long job; /* -1: idle */
    const unsigned char *next;
    size_t whole;
    unsigned char tail[2 * BLOCK];
    int tail_blocks, tail_used;
} Lane;

/* The last blocks of a buffer of `len` bytes, whose last `rest` (fewer than BLOCK) are at `last`:
   those bytes, 0x80, zeros and the length in bits. Returns how many blocks: one or two. */
static int padding(unsigned char out[2 * BLOCK], const unsigned char *last, size_t rest, uint64_t len) {
    int blocks = rest < BLOCK - 8 ? 1 : 2;
    memset(out, 0, 2 * BLOCK);
    if (rest) memcpy(out, last, rest);
    out[rest] = 0x80;
    uint64_t bits = len * 8;
    unsigned char *end = out + blocks * BLOCK - 8;
    for (int k = 0; k < 8; k++) end[k] = (unsigned char)(bits >> (8 * k));
    return blocks;
}

static void lane_take(Lane *l, const Md5Job *job, long index) {
    size_t rest = job->len % BLOCK;
    l->job = index;
    l->next = job->data;
    l->whole = job->len / BLOCK;
    l->tail_blocks = padding(l->tail, job->data + job->len - rest, rest, job->len);
    l->tail_used = 0;
}

static const unsigned char *lane_block(Lane *l) {
    static const unsigned char idle[BLOCK];
    if (l->job < 0) return idle;
    if (l->whole) {
        const unsigned char *b = l->next;
        l->next += BLOCK;
        l->whole--;
        return b;
    }
    return l->tail + BLOCK * l->tail_used++;
}

#define F(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define G(b, c, d) ((c) ^ ((d) & ((b) ^ (c))))
#define H(b, c, d) ((b) ^ (c) ^ (d))
#define I(b, c, d) ((c) ^ ((b) | ~(d)))
#define STEP(f, a, b, c, d, g, i, s)                        \
    do {                                                    \
        a += f(b, c, d) + m[g] + K[i];                      \
        a = ((a << (s)) | (a >> (32 - (s)))) + b;           \
    } while (0)
/* four steps, the state words turning one place each step */
#define STEPS4(f, i, g0, g1, g2, g3, s0, s1, s2, s3) \
    STEP(f, a, b, c, d, g0, i, s0);                  \
    STEP(f, d, a, b, c, g1, i + 1, s1);              \
    STEP(f, c, d, a, b, g2, i + 2, s2);              \
    STEP(f, b, c, d, a, g3, i + 3, s3)
/* the 64 steps of one block, on a, b, c, d and the words m: vectors of lanes, or plain words */
#define MD5_ROUNDS                                  \
    STEPS4(F, 0, 0, 1, 2, 3, 7, 12, 17, 22);        \
    STEPS4(F, 4, 4, 5, 6, 7, 7, 12, 17, 22);        \
    STEPS4(F, 8, 8, 9, 10, 11, 7, 12, 17, 22);      \
    STEPS4(F, 12, 12, 13, 14, 15, 7, 12, 17, 22);   \
    STEPS4(G, 16, 1, 6, 11, 0, 5, 9, 14, 20);       \
    STEPS4(G, 20, 5, 10, 15, 4, 5, 9, 14, 20);      \
    STEPS4(G, 24, 9, 14, 3, 8, 5, 9, 14, 20);       \
    STEPS4(G, 28, 13, 2, 7, 12, 5, 9, 14, 20);      \
    STEPS4(H, 32, 5, 8, 11, 14, 4, 11, 16, 23);     \
    STEPS4(H, 36, 1, 4, 7, 10, 4, 11, 16, 23);      \
    STEPS4(H, 40, 13, 0, 3, 6, 4, 11, 16, 23);      \
    STEPS4(H, 44, 9, 12, 15, 2, 4, 11, 16, 23);     \
    STEPS4(I, 48, 0, 7, 14, 5, 6, 10, 15, 21);      \
    STEPS4(I, 52, 12, 3, 10, 1, 6, 10, 15, 21);     \
    STEPS4(I, 56, 8, 15, 6, 13, 6, 10, 15, 21);     \
    STEPS4(I, 60, 4, 11, 2, 9, 6, 10, 15, 21)

/* Hashes jobs[order[0..n)] (in that order) through the lanes. Inlined into one function per target,
   whose instructions the vector operations then use. */
static inline __attribute__((always_inline)) void run(Md5Job *jobs, const size_t *order, size_t n) {
    Lane lane[LANES];
    uint32_t state[4][LANES] __attribute__((aligned(64)));
    uint32_t words[16][LANES] __attribute__((aligned(64)));
    size_t taken = 0;
    int busy = 0;
    for (int l = 0; l < LANES; l++) {
        lane[l].job = -1;
        for (int k = 0; k < 4; k++) state[k][l] = IV[k];
        if (taken < n) {
            lane_take(&lane[l], &jobs[order[taken]], (long)order[taken]);
            taken++;
            busy++;
        }
    }
    while (busy) {
        for (int l = 0; l < LANES; l++) {
            const unsigned char *b = lane_block(&lane[l]);
            for (int w = 0; w < 16; w++) words[w][l] = le32(b + 4 * w);
        }
        Vec m[16], a, b, c, d;
        for (int w = 0; w < 16; w++) memcpy(&m[w], words[w], sizeof(Vec));
        memcpy(&a, state[0], sizeof a);
        memcpy(&b, state[1], sizeof b);
        memcpy(&c, state[2], sizeof c);
        memcpy(&d, state[3], sizeof d);
        const Vec a0 = a, b0 = b, c0 = c, d0 = d;
        MD5_ROUNDS;
        a += a0;
        b += b0;
        c += c0;
        d += d0;
        memcpy(state[0], &a, sizeof a);
        memcpy(state[1], &b, sizeof b);
        memcpy(state[2], &c, sizeof c);
        memcpy(state[3], &d, sizeof d);
        /* a lane whose last block is done gives its digest and takes the next buffer */
        for (int l = 0; l < LANES; l++) {
            Lane *ln = &lane[l];
            if (ln->job < 0 || ln->whole || ln->tail_used < ln->tail_blocks) continue;
            unsigned char *out = jobs[ln->job].digest;
            for (int k = 0; k < 4; k++)
                for (int byte = 0; byte < 4; byte++) out[4 * k + byte] = (unsigned char)(state[k][l] >> (8 * byte));
            for (int k = 0; k < 4; k++) state[k][l] = IV[k];
            if (taken < n) {
                lane_take(ln, &jobs[order[taken]], (long)order[taken]);
                taken++;
            } else {
                ln->job = -1;
                busy--;
            }
        }
    }
}

typedef void Runner(Md5Job *, const size_t *, size_t);
static void run_base(Md5Job *jobs, const size_t *order, size_t n) { run(jobs, order, n); }
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void run_avx2(Md5Job *jobs, const size_t *order, size_t n) { run(jobs, order, n); }
__attribute__((target("avx512f"))) static void run_avx512(Md5Job *jobs, const size_t *order, size_t n) { run(jobs, order, n); }
#endif

static Runner *runner = run_base;

const char *md5_lanes_choose(const char *want) {
    runner = run_base;
    const char *name = "base";
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    int any = !want || !*want;
    if ((any || strcmp(want, "avx512") == 0) && __builtin_cpu_supports("avx512f")) {
        runner = run_avx512;
        name = "avx512";
    } else if ((any || strcmp(want, "avx512") == 0 || strcmp(want, "avx2") == 0) && __builtin_cpu_supports("avx2")) {
        runner = run_avx2;
        name = "avx2";
    }
#else
    (void)want;
#endif
    return name;
}

/* the jobs qsort's comparison reads: md5_lanes is for one thread at a time (ouzo-unpack has one) */
static const Md5Job *sorting;
static int longer_first(const void *x, const void *y) {
    size_t a = sorting[*(const size_t *)x].len, b = sorting[*(const size_t *)y].len;
    return a < b ? 1 : a > b ? -1 : 0;
}

void md5_lanes(Md5Job *jobs, size_t n) {
    if (!n) return;
    size_t small[256];
    size_t *order = n <= 256 ? small : malloc(n * sizeof *order);
    if (!order) {
        /* no memory for the order: the given one does, only the lanes end less evenly */
        for (size_t i = 0; i < n; i += 256) {
            size_t k = n - i < 256 ? n - i : 256;
            for (size_t j = 0; j < k; j++) small[j] = i + j;
            runner(jobs, small, k);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) order[i] = i;
    sorting = jobs;
    qsort(order, n, sizeof *order, longer_first);
    runner(jobs, order, n);
    if (order != small) free(order);
}

/* ---- one buffer, as it comes: for the files too large to wait in the arena ---- */

static void block(uint32_t st[4], const unsigned char *p) {
    uint32_t m[16];
    for (int w = 0; w < 16; w++) m[w] = le32(p + 4 * w);
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    MD5_ROUNDS;
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

void md5_stream_init(Md5Stream *m) {
    memcpy(m->state, IV, sizeof m->state);
    m->len = 0;
    m->fill = 0;
}

void md5_stream_update(Md5Stream *m, const unsigned char *p, size_t n) {
    m->len += n;
    if (m->fill) {
        size_t k = BLOCK - m->fill < n ? BLOCK - m->fill : n;
        memcpy(m->buf + m->fill, p, k);
        m->fill += k;
        p += k;
        n -= k;
        if (m->fill < BLOCK) return;
        block(m->state, m->buf);
        m->fill = 0;
    }
    for (; n >= BLOCK; p += BLOCK, n -= BLOCK) block(m->state, p);
    memcpy(m->buf, p, n);
    m->fill = n;
}

void md5_stream_final(Md5Stream *m, unsigned char digest[16]) {
    unsigned char tail[2 * BLOCK];
    int blocks = padding(tail, m->buf, m->fill, m->len);
    for (int k = 0; k < blocks; k++) block(m->state, tail + k * BLOCK);
    for (int k = 0; k < 4; k++)
        for (int byte = 0; byte < 4; byte++) digest[4 * k + byte] = (unsigned char)(m->state[k] >> (8 * byte));
}
