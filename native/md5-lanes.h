/*
 * MD5 of many buffers at once, one buffer per SIMD lane (md5-lanes.c). MD5 cannot be made faster
 * for one buffer (each step needs the one before), but the files of a package are independent:
 * sixteen of them are hashed in step, 32-bit lane by lane, with the widest vectors the CPU has.
 * A buffer too large to keep whole is hashed as it comes, one block at a time (Md5Stream).
 */
#ifndef OUZO_MD5_LANES_H
#define OUZO_MD5_LANES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const unsigned char *data;
    size_t len;
    unsigned char digest[16];
} Md5Job;

/* Which instructions md5_lanes uses: "avx512", "avx2" or "base" (what the compiler targets by
   default: SSE2 on x86-64). `want` (may be NULL) asks for one of those; a CPU without it gets the
   best it has. Called once, before md5_lanes. */
const char *md5_lanes_choose(const char *want);

/* The digest of every job. */
void md5_lanes(Md5Job *jobs, size_t n);

/* One buffer given in pieces, one block at a time (for the files too large to be kept whole). */
typedef struct {
    uint32_t state[4];
    uint64_t len;
    unsigned char buf[64];
    size_t fill;
} Md5Stream;
void md5_stream_init(Md5Stream *m);
void md5_stream_update(Md5Stream *m, const unsigned char *p, size_t n);
void md5_stream_final(Md5Stream *m, unsigned char digest[16]);

#endif
