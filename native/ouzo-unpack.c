/*
 * ouzo-unpack: unpack anise package tarballs (`*.package.tar.zst`, anise.md §6) into ouzo's
 * image directories, computing the MD5 of every file as it is written (CONTENTS needs it).
 *
 * It is the fast path of src/anise/unpack.ts, which keeps every decision. Each entry that carries
 * data or is a symlink is written under its ordinal (the entry's position in the archive, 1 for
 * the first) in the image directory given; the TypeScript side then checks the names, applies
 * subsets, sets the carried VDB entry apart, makes hard links and special files, and drops what
 * it does not keep. Asked to (FLAGS "t"), a regular file whose name is clean goes at that name in
 * WORK/tree instead (see tree_name): a directory of the tree that holds exactly what the package
 * installs there is then merged into ROOT by one rename instead of one per file. Decompression
 * is zstd's own library (the sources zstd-napi ships). MD5: the files up to LANE_FILE_MAX are copied aside
 * and hashed sixteen at a time, the larger ones as they are written (both in md5-lanes.c);
 * OUZO_UNPACK_MD5 = stream (every file as it is written), base, avx2 or avx512 picks a way (for
 * the tests and the benchmarks). Nothing but libc and libm: a C compiler is all it needs.
 *
 * Usage: ouzo-unpack    (serves requests on stdin until it closes)
 *
 * Request, three NUL-terminated fields:
 *   FLAGS   "o" to restore owners from the archive (EPERM ignored), "-" not to; then "t" to
 *           write files at their names in WORK/tree; then "x" when the caller has just hashed
 *           the archive's bytes (sha256), so that zstd's own frame checksum need not be checked
 *           again (it is otherwise: a cached archive is not hashed at every install). Or "s":
 *           syncfs of the filesystem WORK is on (the merges' merge-sync), ARCHIVE empty, the
 *           answer an empty body or a failure. Or "r": remove WORK and all it holds (what
 *           a merge left of a package), ARCHIVE empty; the answer is an empty body, or a failure
 *   WORK    the package's work directory (absolute): made anew (what was there is removed), with
 *           the image directory WORK/image in it, where the entries go (and WORK/tree)
 *   ARCHIVE the package file
 * Answer: the body's length in decimal and a newline, then the body: records of NUL-terminated
 * fields. An entry is 12 fields:
 *   KIND ORDINAL MODE UID GID MTIME SIZE MD5 DEVMAJOR DEVMINOR NAME LINKNAME
 *   KIND: f file (written, MD5 set), F the same written at WORK/tree/NAME (less a leading "./"),
 *   s symlink (created), d directory, h hard link, c character device, b block device, p fifo,
 *   o anything else (nothing made for d, h, c, b, p, o)
 * A failure ends the answer, after the entries read before it: a record of 2 fields, KIND then
 * the message:
 *   t  the archive is damaged (the message says how)
 *   e  anything else (a read, a write, zstd)
 *   u  the file is not zstd-compressed: the caller unpacks it itself (this one comes alone)
 * The numbers are decimal (MTIME may have a fraction, from a pax header). Exit status: 0 when
 * stdin closes, 1 if a request cannot be read or an answer cannot be written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* for ZSTD_d_forceIgnoreChecksum (experimental in zstd's API, stable since 1.4.7; the library is linked in) */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "md5-lanes.h"

#define BLOCK 512
/* the largest long name or pax header kept (unpack.ts: META_MAX) */
#define META_MAX (1 << 20)
#define IN_SIZE (1 << 20)
#define OUT_SIZE (1 << 20)
/* files up to this size are hashed in lanes, from a copy in an arena of ARENA_SIZE */
#define LANE_FILE_MAX (1 << 20)
#define ARENA_SIZE (8 << 20)
/* and at most this many at once (empty files take no room in the arena) */
#define PENDING_MAX 4096

/* ---- a growable byte buffer ---- */

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static void buf_add(Buf *b, const void *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            fputs("ouzo-unpack: out of memory\n", stderr);
            exit(1);
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

/* a field of the answer: the bytes and their NUL */
static void field(Buf *b, const char *p, size_t n) {
    buf_add(b, p, n);
    buf_add(b, "", 1);
}

static void fieldf(Buf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    field(b, tmp, (size_t)n);
}

static void fieldnum(Buf *b, double v) {
    if (v == floor(v) && v >= 0 && v < 9007199254740992.0) {
        /* the common case, without printf's floating-point path */
        char tmp[24], *p = tmp + sizeof tmp;
        uint64_t n = (uint64_t)v;
        do *--p = (char)('0' + n % 10); while ((n /= 10));
        field(b, p, (size_t)(tmp + sizeof tmp - p));
    } else fieldf(b, "%.17g", v);
}

/* ---- one request ---- */

/* The pax keys whose value is a number, in the order tarReader.ts checks them. */
enum { PAX_SIZE, PAX_UID, PAX_GID, PAX_MTIME, PAX_NUMBERS };
static const char *const PAX_NUMBER_KEYS[PAX_NUMBERS] = {"size", "uid", "gid", "mtime"};

/* A number a pax header gave for the next entry: whether it gave one, and whether it reads. */
typedef struct {
    int given, ok;
    double value;
} PaxNumber;

typedef struct {
    /* what the request asked */
    int dirfd;
    int treefd; /* WORK/tree, when files go at their names (-1 otherwise) */
    int same_owner;
    uid_t my_uid;
    gid_t new_gid;
    mode_t umask;
    /* the answer so far */
    Buf out;
    /* the failure, if any: its kind ('t' or 'e') and message */
    char fail_kind;
    char fail[512];
    /* the tar stream */
    unsigned char head[BLOCK];
    size_t head_fill;
    uint64_t remaining, padding;
    int ended;
    unsigned long entries;
    /* a metadata entry (L, K, x, g) being collected */
    char meta_kind;
    Buf meta;
    /* what earlier metadata entries said of the next entry */
    Buf long_name, long_link;
    int has_long_name, has_long_link;
    Buf pax_path, pax_linkpath;
    int has_pax_path, has_pax_linkpath;
    PaxNumber pax_number[PAX_NUMBERS];
    /* the file being written */
    int fd;
    int plain_mode;
    unsigned mode;
    double uid, gid, mtime;
    Md5Stream md5;
    int in_lanes; /* the current file is copied to the arena and hashed with others */
    int lane_open; /* ... and its data is not all there yet */
    size_t entry_at; /* where the current file's MD5 goes in out */
    size_t kind_at;  /* where its KIND is: 'F' once it is written at its name in the tree */
} Job;

/* ---- MD5 in lanes: the files waiting in the arena, hashed together ---- */

static int use_lanes;
static unsigned char *arena;
static size_t arena_used;
typedef struct {
    size_t at, len; /* its bytes in the arena */
    size_t md5_at;  /* where its MD5 goes in the answer */
} Waiting;
static Waiting pending[PENDING_MAX];
static Md5Job lane_jobs[PENDING_MAX];
static size_t n_pending;

static void put_hex(char *to, const unsigned char digest[16]) {
    static const char hex[] = "0123456789abcdef";
    for (int k = 0; k < 16; k++) {
        to[2 * k] = hex[digest[k] >> 4];
        to[2 * k + 1] = hex[digest[k] & 15];
    }
}

/* A file cut short (a failure follows) is hashed as far as it came, as a streamed one is. */
static void cut_lane(Job *j) {
    if (!j->lane_open) return;
    pending[n_pending - 1].len = arena_used - pending[n_pending - 1].at;
    j->lane_open = 0;
}

/* Every waiting file's MD5 into its record. */
static void hash_pending(Job *j) {
    for (size_t i = 0; i < n_pending; i++) lane_jobs[i] = (Md5Job){.data = arena + pending[i].at, .len = pending[i].len};
    md5_lanes(lane_jobs, n_pending);
    for (size_t i = 0; i < n_pending; i++) put_hex(j->out.data + pending[i].md5_at, lane_jobs[i].digest);
    n_pending = 0;
    arena_used = 0;
}

static void failf(Job *j, char kind, const char *fmt, ...) {
    if (j->fail_kind) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->fail, sizeof j->fail, fmt, ap);
    va_end(ap);
    j->fail_kind = kind;
}

/* A tar number: base-256 when the first byte's high bit is set (GNU), else octal after spaces/NULs. */
static double tar_number(const unsigned char *p, size_t len) {
    double v;
    if (p[0] & 0x80) {
        v = p[0] & 0x7f;
        for (size_t i = 1; i < len; i++) v = v * 256 + p[i];
        return v;
    }
    size_t i = 0;
    v = 0;
    while (i < len && (p[i] == ' ' || p[i] == 0)) i++;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '7') break;
        v = v * 8 + (p[i] - '0');
    }
    return v;
}

/* A NUL-terminated field of at most len bytes. */
static size_t cstring_len(const unsigned char *p, size_t len) {
    const unsigned char *z = memchr(p, 0, len);
    return z ? (size_t)(z - p) : len;
}

/* A pax number, as both readers take it: -?DIGITS(.DIGITS)?, under PAX_NUMBER_MAX characters. */
#define PAX_NUMBER_MAX 512
static int pax_number(const char *s, size_t n, double *out) {
    size_t i = 0;
    if (n >= PAX_NUMBER_MAX) return 0;
    if (i < n && s[i] == '-') i++;
    size_t digits = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == digits) return 0;
    if (i < n && s[i] == '.') {
        size_t fraction = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == fraction) return 0;
    }
    if (i != n) return 0;
    char tmp[PAX_NUMBER_MAX];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return 1;
}

/* "LEN key=value\n" records; a malformed one ends the header, as in unpack.ts. */
static void parse_pax(Job *j, const char *body, size_t len) {
    size_t i = 0;
    while (i < len) {
        const char *sp = memchr(body + i, ' ', len - i);
        if (!sp) break;
        size_t rec_len = 0;
        const char *p = body + i;
        if (p == sp) break;
        for (; p < sp; p++) {
            if (*p < '0' || *p > '9') return;
            rec_len = rec_len * 10 + (size_t)(*p - '0');
            if (rec_len > len) return;
        }
        if (rec_len == 0 || i + rec_len > len) break;
        const char *rec = sp + 1;
        const char *rec_end = body + i + rec_len - 1; /* the newline */
        if (rec_end < rec) break;
        const char *eq = memchr(rec, '=', (size_t)(rec_end - rec));
        if (eq && eq > rec) {
            size_t klen = (size_t)(eq - rec);
            const char *val = eq + 1;
            size_t vlen = (size_t)(rec_end - val);
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(rec, k, klen) == 0)
            if (KEY("path")) {
                j->pax_path.len = 0;
                buf_add(&j->pax_path, val, vlen);
                j->has_pax_path = 1;
            } else if (KEY("linkpath")) {
                j->pax_linkpath.len = 0;
                buf_add(&j->pax_linkpath, val, vlen);
                j->has_pax_linkpath = 1;
            } else {
                for (int k = 0; k < PAX_NUMBERS; k++) {
                    if (klen != strlen(PAX_NUMBER_KEYS[k]) || memcmp(rec, PAX_NUMBER_KEYS[k], klen) != 0) continue;
                    PaxNumber *x = &j->pax_number[k];
                    x->given = 1;
                    x->ok = pax_number(val, vlen, &x->value);
                }
            }
#undef KEY
        }
        i += rec_len;
    }
}

static void reset_meta(Job *j) {
    j->has_long_name = j->has_long_link = 0;
    j->has_pax_path = j->has_pax_linkpath = 0;
    memset(j->pax_number, 0, sizeof j->pax_number);
}

static void finish_meta(Job *j) {
    const char *body = j->meta.data ? j->meta.data : "";
    size_t len = j->meta.len;
    if (j->meta_kind == 'L' || j->meta_kind == 'K') {
        Buf *b = j->meta_kind == 'L' ? &j->long_name : &j->long_link;
        b->len = 0;
        buf_add(b, body, cstring_len((const unsigned char *)body, len));
        if (j->meta_kind == 'L') j->has_long_name = 1;
        else j->has_long_link = 1;
    } else if (j->meta_kind == 'x') {
        parse_pax(j, body, len);
    }
    j->meta_kind = 0;
    j->meta.len = 0;
}

static void set_times(struct timespec ts[2], double mtime) {
    double s = floor(mtime);
    ts[0].tv_sec = (time_t)s;
    ts[0].tv_nsec = (long)((mtime - s) * 1e9);
    if (ts[0].tv_nsec > 999999999) ts[0].tv_nsec = 999999999;
    ts[1] = ts[0];
}

/* The current file's data is all written: owner, mode, times, MD5 into its record. */
static void finish_file(Job *j) {
    if (j->fd < 0) {
        cut_lane(j);
        return;
    }
    j->lane_open = 0;
    if (!j->in_lanes) {
        unsigned char digest[16];
        md5_stream_final(&j->md5, digest);
        put_hex(j->out.data + j->entry_at, digest);
    }
    if (j->same_owner && (j->uid != j->my_uid || j->gid != j->new_gid)) {
        if (fchown(j->fd, (uid_t)j->uid, (gid_t)j->gid) < 0 && errno != EPERM) failf(j, 'e', "entry %lu: cannot set its owner: %s", j->entries, strerror(errno));
    }
    /* after the owner: a chown clears the set-id bits */
    if (!j->plain_mode && fchmod(j->fd, j->mode) < 0) failf(j, 'e', "entry %lu: cannot set its mode: %s", j->entries, strerror(errno));
    struct timespec ts[2];
    set_times(ts, j->mtime);
    if (futimens(j->fd, ts) < 0) failf(j, 'e', "entry %lu: cannot set its times: %s", j->entries, strerror(errno));
    if (close(j->fd) < 0) failf(j, 'e', "entry %lu: %s", j->entries, strerror(errno));
    j->fd = -1;
}

static void file_data(Job *j, const unsigned char *p, size_t n) {
    if (j->fd < 0) return;
    if (j->in_lanes) {
        memcpy(arena + arena_used, p, n);
        arena_used += n;
    } else md5_stream_update(&j->md5, p, n);
    while (n > 0) {
        ssize_t w = write(j->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            failf(j, 'e', "entry %lu: cannot write it: %s", j->entries, strerror(errno));
            close(j->fd);
            j->fd = -1;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* ---- files at their names: WORK/tree ---- */

/*
 * Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF): the TypeScript side
 * decodes the answer's names as UTF-8, and only such a name comes back as the same bytes.
 */
static int valid_utf8(const unsigned char *s) {
    while (*s) {
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        int n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
        if (n < 0) return 0;
        for (int k = 1; k <= n; k++)
            if ((s[k] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && s[1] < 0xa0) return 0; /* overlong */
        if (c == 0xed && s[1] > 0x9f) return 0; /* a surrogate */
        if (c == 0xf0 && s[1] < 0x90) return 0; /* overlong */
        if (c == 0xf4 && s[1] > 0x8f) return 0; /* past U+10FFFF */
        s += n + 1;
    }
    return 1;
}

/*
 * The name a file takes in the tree, or NULL when it keeps its ordinal: a name the TypeScript
 * side uses as it is (ImageBuilder's `relative`: a leading "./" taken off, then no empty, "." or
 * ".." part, not absolute), and reads back as these bytes (valid UTF-8). Only files and the
 * directories above them are ever made in the tree (symlinks, hard links and special files keep
 * their ordinals), so with such a name no open can leave it: every directory on the way is one
 * this helper made.
 */
static const char *tree_name(const char *name) {
    const char *p = strncmp(name, "./", 2) == 0 ? name + 2 : name;
    if (!*p || *p == '/' || !valid_utf8((const unsigned char *)p)) return NULL;
    for (const char *c = p;;) {
        const char *slash = strchr(c, '/');
        size_t len = slash ? (size_t)(slash - c) : strlen(c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) return NULL;
        if (!slash) return p;
        c = slash + 1;
    }
}

/* The directories above `rel` in the tree, made where missing (0755, less the umask). */
static int make_parents(int treefd, char *rel) {
    char *slash = strrchr(rel, '/');
    if (!slash) return 0;
    *slash = 0;
    int r = mkdirat(treefd, rel, 0755);
    if (r < 0 && errno == ENOENT && make_parents(treefd, rel) == 0) r = mkdirat(treefd, rel, 0755);
    if (r < 0 && errno == EEXIST) r = 0;
    *slash = '/';
    return r;
}

/* A new file at `rel` in the tree; -1 when it cannot be made there (it then goes under its ordinal). */
static int create_in_tree(int treefd, const char *rel, mode_t mode) {
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(treefd, rel, flags, mode);
    if (fd >= 0 || errno != ENOENT) return fd;
    char *copy = strdup(rel);
    if (!copy) return -1;
    if (make_parents(treefd, copy) == 0) fd = openat(treefd, rel, flags, mode);
    free(copy);
    return fd;
}

static void header(Job *j, const unsigned char *h) {
    int zero = 1;
    for (int k = 0; k < BLOCK; k++)
        if (h[k]) {
            zero = 0;
            break;
        }
    if (zero) {
        j->ended = 1;
        return;
    }
    unsigned long sum = 0;
    for (int k = 0; k < BLOCK; k++) sum += (k >= 148 && k < 156) ? 0x20 : h[k];
    if ((double)sum != tar_number(h + 148, 8)) {
        failf(j, 't', "not a tar archive, or a damaged one (header checksum mismatch)");
        return;
    }
    char flag = (char)h[156];
    double size = tar_number(h + 124, 12);
    if (flag == 'L' || flag == 'K' || flag == 'x' || flag == 'g') {
        /* a bound on what is kept in memory: a name or a header of this size is no package's */
        if (size > META_MAX) {
            failf(j, 't', "a long name or pax header is larger than 1 MiB");
            return;
        }
        j->meta_kind = flag;
        j->meta.len = 0;
        j->remaining = (uint64_t)size;
        j->padding = (j->remaining + BLOCK - 1) / BLOCK * BLOCK - j->remaining;
        if (j->remaining == 0) finish_meta(j);
        return;
    }
    Buf name = {0};
    if (j->has_pax_path) buf_add(&name, j->pax_path.data, j->pax_path.len);
    else if (j->has_long_name) buf_add(&name, j->long_name.data, j->long_name.len);
    else {
        if (memcmp(h + 257, "ustar\0", 6) == 0) {
            size_t plen = cstring_len(h + 345, 155);
            if (plen) {
                buf_add(&name, h + 345, plen);
                buf_add(&name, "/", 1);
            }
        }
        buf_add(&name, h, cstring_len(h, 100));
    }
    Buf link = {0};
    if (j->has_pax_linkpath) buf_add(&link, j->pax_linkpath.data, j->pax_linkpath.len);
    else if (j->has_long_link) buf_add(&link, j->long_link.data, j->long_link.len);
    else buf_add(&link, h + 157, cstring_len(h + 157, 100));

    char kind;
    switch (flag) {
    case '0': case '\0': case '7': kind = 'f'; break;
    case '1': kind = 'h'; break;
    case '2': kind = 's'; break;
    case '3': kind = 'c'; break;
    case '4': kind = 'b'; break;
    case '5': kind = 'd'; break;
    case '6': kind = 'p'; break;
    default: kind = 'o';
    }
    /* as JavaScript's `& 0o7777` takes it: modulo 2^32 */
    unsigned mode = (unsigned)fmod(tar_number(h + 100, 8), 4294967296.0) & 07777;
    const PaxNumber *pax = j->pax_number;
    double uid = pax[PAX_UID].given ? pax[PAX_UID].value : tar_number(h + 108, 8);
    double gid = pax[PAX_GID].given ? pax[PAX_GID].value : tar_number(h + 116, 8);
    if (pax[PAX_SIZE].given) size = pax[PAX_SIZE].value;
    double mtime = pax[PAX_MTIME].given ? pax[PAX_MTIME].value : tar_number(h + 136, 12);
    double devmajor = tar_number(h + 329, 8), devminor = tar_number(h + 337, 8);
    /* the checks of tarReader.ts, in its order and words */
    unsigned long n = j->entries + 1;
    /* failf keeps the first failure: the order of these is the order of the words told */
    for (int k = 0; k < PAX_NUMBERS; k++)
        if (pax[k].given && !pax[k].ok) failf(j, 't', "a pax header's %s is not a number", PAX_NUMBER_KEYS[k]);
    if (memchr(name.data, 0, name.len) || memchr(link.data, 0, link.len)) failf(j, 't', "entry %lu's name holds a NUL byte", n);
    else if (!(size >= 0 && size < 9007199254740992.0 && size == floor(size))) failf(j, 't', "entry %lu's size is out of range", n);
    else if (!(uid >= 0 && uid <= 4294967294.0 && uid == floor(uid) && gid >= 0 && gid <= 4294967294.0 && gid == floor(gid))) failf(j, 't', "entry %lu's owner is out of range", n);
    else if (!(fabs(mtime) < 1e15)) failf(j, 't', "entry %lu's time is out of range", n);
    if (j->fail_kind) {
        free(name.data);
        free(link.data);
        return;
    }
    reset_meta(j);
    j->entries++;

    /* the record; a file's MD5 is filled in when its data is written */
    char ordinal[24];
    int olen = snprintf(ordinal, sizeof ordinal, "%lu", j->entries);
    j->kind_at = j->out.len;
    field(&j->out, &kind, 1);
    field(&j->out, ordinal, (size_t)olen);
    fieldf(&j->out, "%u", mode);
    fieldnum(&j->out, uid);
    fieldnum(&j->out, gid);
    fieldnum(&j->out, mtime);
    fieldnum(&j->out, size);
    j->entry_at = j->out.len;
    field(&j->out, kind == 'f' ? "00000000000000000000000000000000" : "", kind == 'f' ? 32 : 0);
    fieldnum(&j->out, devmajor);
    fieldnum(&j->out, devminor);
    field(&j->out, name.data, name.len);
    field(&j->out, link.data, link.len);

    uint64_t data = (kind == 'f' || kind == 'o') ? (uint64_t)size : 0;
    j->remaining = data;
    j->padding = (data + BLOCK - 1) / BLOCK * BLOCK - data;

    if (!j->fail_kind && kind == 'f') {
        /* created with its mode when the umask leaves it whole and it has no set-id or sticky bit
           (which must wait for the owner), as unpack.ts does */
        j->plain_mode = (mode & 07000) == 0 && (mode & j->umask) == 0;
        j->mode = mode;
        j->uid = uid;
        j->gid = gid;
        j->mtime = mtime;
        mode_t create_mode = j->plain_mode ? (mode & 0777) : 0600;
        const char *at = j->treefd >= 0 ? tree_name(name.data) : NULL;
        if (at && (j->fd = create_in_tree(j->treefd, at, create_mode)) >= 0) j->out.data[j->kind_at] = 'F';
        else j->fd = openat(j->dirfd, ordinal, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, create_mode);
        j->in_lanes = use_lanes && data <= LANE_FILE_MAX;
        if (j->fd < 0) failf(j, 'e', "entry %lu: cannot create it: %s", j->entries, strerror(errno));
        else if (j->in_lanes) {
            if (n_pending == PENDING_MAX || arena_used + data > ARENA_SIZE) hash_pending(j);
            pending[n_pending++] = (Waiting){.at = arena_used, .len = (size_t)data, .md5_at = j->entry_at};
            j->lane_open = 1;
        } else md5_stream_init(&j->md5);
        if (data == 0) finish_file(j);
    } else if (!j->fail_kind && kind == 's') {
        if (symlinkat(link.data, j->dirfd, ordinal) < 0) failf(j, 'e', "entry %lu: cannot create the symlink: %s", j->entries, strerror(errno));
        else {
            if (j->same_owner && fchownat(j->dirfd, ordinal, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM) failf(j, 'e', "entry %lu: cannot set the symlink's owner: %s", j->entries, strerror(errno));
            struct timespec ts[2];
            set_times(ts, mtime);
            if (utimensat(j->dirfd, ordinal, ts, AT_SYMLINK_NOFOLLOW) < 0) failf(j, 'e', "entry %lu: cannot set the symlink's times: %s", j->entries, strerror(errno));
        }
    }
    free(name.data);
    free(link.data);
}

/* Decompressed bytes, in order. */
static void push(Job *j, const unsigned char *buf, size_t len) {
    size_t i = 0;
    while (i < len && !j->ended && !j->fail_kind) {
        if (j->remaining > 0) {
            size_t n = j->remaining < len - i ? (size_t)j->remaining : len - i;
            if (j->meta_kind) buf_add(&j->meta, buf + i, n);
            else file_data(j, buf + i, n);
            j->remaining -= n;
            i += n;
            if (j->remaining == 0) {
                if (j->meta_kind) finish_meta(j);
                else finish_file(j);
            }
            continue;
        }
        if (j->padding > 0) {
            size_t n = j->padding < len - i ? (size_t)j->padding : len - i;
            j->padding -= n;
            i += n;
            continue;
        }
        size_t n = BLOCK - j->head_fill < len - i ? BLOCK - j->head_fill : len - i;
        memcpy(j->head + j->head_fill, buf + i, n);
        j->head_fill += n;
        i += n;
        if (j->head_fill == BLOCK) {
            j->head_fill = 0;
            header(j, j->head);
        }
    }
}

static unsigned char *in_buf, *out_buf;
static ZSTD_DCtx *dctx;

/* Unpack one archive; the answer is left in j->out (or the failure in j->fail). */
static void unpack(Job *j, const char *archive, int verified) {
    int fd = open(archive, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        failf(j, 'e', "cannot open it: %s", strerror(errno));
        return;
    }
    ssize_t got = pread(fd, in_buf, 4, 0);
    if (got < 4 || !(in_buf[0] == 0x28 && in_buf[1] == 0xb5 && in_buf[2] == 0x2f && in_buf[3] == 0xfd)) {
        if (got < 0) failf(j, 'e', "cannot read it: %s", strerror(errno));
        else failf(j, 'u', "not zstd");
        close(fd);
        return;
    }
    ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_forceIgnoreChecksum, verified ? ZSTD_d_ignoreChecksum : ZSTD_d_validateChecksum);
    size_t last = 0;
    while (!j->fail_kind) {
        ssize_t r = read(fd, in_buf, IN_SIZE);
        if (r < 0) {
            if (errno == EINTR) continue;
            failf(j, 'e', "cannot read it: %s", strerror(errno));
            break;
        }
        if (r == 0) break;
        ZSTD_inBuffer in = {in_buf, (size_t)r, 0};
        ZSTD_outBuffer out;
        do {
            out = (ZSTD_outBuffer){out_buf, OUT_SIZE, 0};
            last = ZSTD_decompressStream(dctx, &out, &in);
            if (ZSTD_isError(last)) {
                failf(j, 'e', "%s", ZSTD_getErrorName(last));
                break;
            }
            /* after the archive's end, the rest is decompressed only to find a truncated stream */
            if (out.pos && !j->ended) push(j, out_buf, out.pos);
        } while (!j->fail_kind && (in.pos < in.size || out.pos == out.size));
    }
    close(fd);
    if (j->fd >= 0) {
        close(j->fd);
        j->fd = -1;
    }
    cut_lane(j);
    if (j->fail_kind) return;
    if (last != 0) {
        failf(j, 'e', "the zstd stream ends in the middle of a frame (truncated)");
        return;
    }
    if (!j->ended && j->entries == 0 && j->head_fill == 0) failf(j, 't', "not a tar archive (no entries)");
    /* every writer ends an archive with zero blocks: without them, something is missing */
    else if (!j->ended || j->remaining > 0 || j->padding > 0 || j->meta_kind) failf(j, 't', "the archive is truncated");
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT ? -1 : 0;
}

/* `dir` made anew: an old one removed first, missing parents made. */
static int fresh_dir(const char *dir) {
    if (mkdir(dir, 0755) == 0) return 0;
    if (errno == EEXIST) {
        if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0) return -1;
    } else if (errno == ENOENT) {
        /* the parents, one by one */
        char *copy = strdup(dir);
        if (!copy) return -1;
        for (char *p = copy + 1; *p; p++) {
            if (*p != '/') continue;
            *p = 0;
            if (mkdir(copy, 0755) < 0 && errno != EEXIST) {
                free(copy);
                return -1;
            }
            *p = '/';
        }
        free(copy);
    } else return -1;
    return mkdir(dir, 0755);
}

/* One NUL-terminated field of the request; 0 at the end of input. */
static int read_field(char **line, size_t *cap) {
    ssize_t n = getdelim(line, cap, 0, stdin);
    if (n <= 0) return 0;
    if ((*line)[n - 1] != 0) return 0;
    return 1;
}

static int write_all(const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(1, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return 0;
        }
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

/* Write a job's answer and free what it holds; 0 when the answer cannot be written. */
static int answer_job(Job *j) {
    /* a failure follows the entries read before it: the caller judges those first, as the
       TypeScript reader does, so an earlier bad name is the error told, not a later cut */
    Buf *answer = &j->out;
    if (j->fail_kind == 'u') j->out.len = 0;
    if (j->fail_kind) {
        field(&j->out, &j->fail_kind, 1);
        field(&j->out, j->fail, strlen(j->fail));
    }
    char head[32];
    int hlen = snprintf(head, sizeof head, "%zu\n", answer->len);
    int ok = write_all(head, (size_t)hlen) && write_all(answer->data ? answer->data : "", answer->len);
    free(j->out.data);
    free(j->meta.data);
    free(j->long_name.data);
    free(j->long_link.data);
    free(j->pax_path.data);
    free(j->pax_linkpath.data);
    return ok;
}

int main(void) {
    in_buf = malloc(IN_SIZE);
    out_buf = malloc(OUT_SIZE);
    /* zstd's frame checksum is checked too, unless the request says the bytes were just hashed */
    dctx = ZSTD_createDCtx();
    const char *md5_way = getenv("OUZO_UNPACK_MD5");
    use_lanes = !(md5_way && strcmp(md5_way, "stream") == 0);
    if (use_lanes) {
        md5_lanes_choose(md5_way);
        arena = malloc(ARENA_SIZE);
    }
    if (!in_buf || !out_buf || !dctx || (use_lanes && !arena)) {
        fputs("ouzo-unpack: out of memory\n", stderr);
        return 1;
    }
    mode_t um = umask(0);
    umask(um);
    char *flags = NULL, *work = NULL, *archive = NULL;
    size_t fcap = 0, wcap = 0, acap = 0;
    Buf image = {0};
    for (;;) {
        if (!read_field(&flags, &fcap)) return 0;
        if (!read_field(&work, &wcap) || !read_field(&archive, &acap)) {
            fputs("ouzo-unpack: an incomplete request\n", stderr);
            return 1;
        }
        Job j = {0};
        j.fd = -1;
        j.treefd = -1;
        if (flags[0] == 's') {
            int fd = open(work, O_RDONLY | O_CLOEXEC);
            if (fd < 0 || syncfs(fd) < 0) failf(&j, 'e', "cannot sync the filesystem of %s: %s", work, strerror(errno));
            if (fd >= 0) close(fd);
            if (!answer_job(&j)) return 1;
            continue;
        }
        if (flags[0] == 'r') {
            /* a removal: the merge left a few directories, moved out of or emptied */
            if (nftw(work, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT) failf(&j, 'e', "cannot remove %s: %s", work, strerror(errno));
            if (!answer_job(&j)) return 1;
            continue;
        }
        j.same_owner = flags[0] == 'o';
        int tree = flags[0] && flags[1] == 't';
        int verified = flags[0] && strchr(flags + 1, 'x') != NULL;
        j.my_uid = getuid();
        j.umask = um;
        image.len = 0;
        buf_add(&image, work, strlen(work));
        buf_add(&image, "/image", 6);
        if (fresh_dir(work) < 0 || mkdir(image.data, 0755) < 0) failf(&j, 'e', "cannot make the work directory %s: %s", work, strerror(errno));
        else if ((j.dirfd = open(image.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) failf(&j, 'e', "cannot open the image directory %s: %s", image.data, strerror(errno));
        else if (tree && (mkdirat(j.dirfd, "../tree", 0755) < 0 || (j.treefd = openat(j.dirfd, "../tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)) {
            failf(&j, 'e', "cannot make the tree directory in %s: %s", work, strerror(errno));
            close(j.dirfd);
        } else {
            /* the group a new file gets: the directory's when it is set-group-id, ours otherwise */
            struct stat st;
            j.new_gid = fstat(j.dirfd, &st) == 0 && (st.st_mode & S_ISGID) ? st.st_gid : getegid();
            unpack(&j, archive, verified);
            hash_pending(&j);
            close(j.dirfd);
            if (j.treefd >= 0) close(j.treefd);
        }
        if (!answer_job(&j)) return 1;
    }
}
