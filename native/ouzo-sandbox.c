/*
 * ouzo-sandbox: run one program (a phase's bash) inside ouzo's build sandbox (build spec §8).
 *
 * Enforcement is the kernel's: Landlock for the filesystem (every write-type right is handled, so
 * writes are refused outside the allowed trees while everything stays readable), namespaces for
 * the network, IPC, host name, PIDs and a private /tmp. No dependency beyond libc and the kernel
 * UAPI headers; the Landlock constants are defined here because distribution headers lag.
 *
 * Usage:
 *   ouzo-sandbox [rules…] -- PROGRAM [ARG…]
 *   ouzo-sandbox --probe
 *
 * Rules (paths absolute; repeatable ones marked *):
 *   --write PATH *        allow every write right beneath PATH (a directory) or writing PATH (a
 *                         file); a PATH that does not exist is skipped with a note
 *   --predict PATH *      writes beneath PATH stay refused but are marked "predicted" in the log
 *   --scratch PATH=DIR *  (mount namespace) bind the empty per-build DIR over PATH (/tmp, /var/tmp,
 *                         /dev/shm) and allow writing it; --write and --expose paths that were
 *                         beneath PATH are bound back at their own place
 *   --expose PATH *       a path beneath a --scratch PATH that must stay visible (repository,
 *                         distfiles, ouzo's own files)
 *   --net none|loopback|host   none: new network namespace without any interface up;
 *                         loopback: new network namespace with lo up (Portage's network-sandbox);
 *                         host: the host's network (default)
 *   --ns LIST             comma list of mount, ipc, uts, pid (net: see --net). pid implies mount
 *                         (a fresh /proc) and makes a small init the reaper of the namespace
 *   --hostname NAME       host name in the UTS namespace (default localhost)
 *   --landlock required|optional|off   required (default): refuse to run without Landlock ABI ≥
 *                         --min-abi (default 2); optional: warn and run without it
 *   --min-abi N
 *   --no-devices          do not add the device files builds need (listed in DEVICES below)
 *   --no-scope            do not restrict signals/abstract UNIX sockets to the sandbox (ABI ≥ 6)
 *   --uid N --gid N [--groups A,B]   run PROGRAM as this user (FEATURES=userpriv); needs root
 *   --chdir DIR           start directory (default: the current one, re-entered after the mounts)
 *   --log FILE            record denied accesses as JSON lines (see REPORTING below)
 *   --audit-enable        with --log: switch kernel auditing on when it is off (root)
 *   --phase NAME          phase name written into the log lines
 *
 * Exit status: PROGRAM's own status; 128+N when it was killed by signal N; 125 when the sandbox
 * could not be set up (nothing ran; the reason is one line on stderr starting "ouzo-sandbox:");
 * 126 when PROGRAM could not be executed; 127 when it was not found. (Like env(1) and chroot(1):
 * a PROGRAM that itself exits 125–127 is told apart by the stderr line.)
 *
 * --probe prints one line of key=value pairs: version, landlock (ABI, 0 if unusable),
 * landlock_error (ENOSYS: kernel built without Landlock; EOPNOTSUPP: not enabled at boot), lsm
 * (when securityfs shows it), userns, mountns, netns, ipcns, utsns, pidns (1 if an unshare trial
 * worked), audit (on, off, locked, noperm, unavailable), reporting (audit or none), root.
 *
 * REPORTING (spec §8.9). Landlock only answers EACCES; the path of a denial is known to the kernel's
 * audit subsystem (ABI 7, Linux 6.15: AUDIT_LANDLOCK_ACCESS records). Measured on the target
 * machine (Linux 6.18, ABI 7, root): binding NETLINK_AUDIT's read-only multicast group works, and
 * once auditing is enabled every denial arrives as `domain=… blockers=fs.make_reg path="/etc"`
 * followed by the SYSCALL record (pid, comm, exe) of the same event; with auditing off nothing is
 * logged at all, hence --audit-enable. So with --log the helper stays outside the sandbox as a
 * monitor: it binds the multicast group before forking, restricts the child with
 * LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON (logging survives exec), learns the child's domain id
 * from the AUDIT_LANDLOCK_DOMAIN "allocated" record whose pid is the child it forked, and writes
 * the denials of that domain (no other process's) to FILE. When the child has ended it sends
 * itself a user audit message and reads until it comes back: records are delivered in order, so
 * every denial of the run has then been seen (an event, not a sleep). Limits: for creations and
 * removals (fs.make_*, fs.remove_*) the kernel names the parent directory, not the new name (ouzo
 * looks the name up in the build log); records are lost if the kernel's audit backlog overflows;
 * ouzo must run in the initial PID and user namespaces for the pid match and CAP_AUDIT_READ.
 * A seccomp user-notification observer was not needed; a build-log scan is ouzo's fallback
 * (src/build/sandbox.ts) where audit is unavailable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#define EXIT_SETUP 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

/* ---- Landlock UAPI (include/uapi/linux/landlock.h), defined here for old headers ---- */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)     /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)  /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)
#define LL_RESTRICT_SELF_LOG_NEW_EXEC_ON (1U << 1) /* ABI 7 */
/* Rights valid on a rule for a non-directory. */
#define LL_FILE_RIGHTS (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};
struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

/* ---- audit record types (include/uapi/linux/audit.h of 6.15+) ---- */
#define REC_SYSCALL 1300
#define REC_EOE 1320
#define REC_LANDLOCK_ACCESS 1423
#define REC_LANDLOCK_DOMAIN 1424
#define REC_FLUSH 1121 /* AUDIT_TRUSTED_APP, a user message we send ourselves to know the stream caught up */

/* The device files every build may write (spec §8.6 default rule set); /dev/fd and /dev/stdout are
 * links to /proc/self/fd, whose targets (pipes, the log, the terminal) are judged themselves. */
static const char *const DEVICES[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/console", "/dev/ptmx",
	"/dev/random", "/dev/urandom", "/dev/pts", "/dev/shm",
};

enum landlock_mode { LL_REQUIRED, LL_OPTIONAL, LL_OFF };
enum net_mode { NET_HOST, NET_NONE, NET_LOOPBACK };

struct scratch {
	const char *path;
	const char *backing;
	char real[PATH_MAX];
	int backing_fd;
};

struct opts {
	const char **write, **predict, **expose;
	size_t nwrite, npredict, nexpose;
	struct scratch *scratch;
	size_t nscratch;
	enum net_mode net;
	int ns_mount, ns_ipc, ns_uts, ns_pid, ns_net_flag;
	const char *hostname;
	enum landlock_mode landlock;
	int min_abi;
	int devices, scope;
	long uid, gid;
	gid_t *groups;
	size_t ngroups;
	const char *chdir;
	const char *log;
	int audit_enable;
	const char *phase;
	char **argv;
};

static struct opts o = { .net = NET_HOST, .landlock = LL_REQUIRED, .min_abi = 2, .devices = 1, .scope = 1, .uid = -1, .gid = -1 };

static void fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fatal(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	dprintf(2, "ouzo-sandbox: %s\n", buf);
	_exit(EXIT_SETUP);
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	dprintf(2, "ouzo-sandbox: warning: %s\n", buf);
}

static const char **push(const char **list, size_t *n, const char *v)
{
	list = realloc(list, (*n + 1) * sizeof *list);
	if (!list) fatal("out of memory");
	list[(*n)++] = v;
	return list;
}

static const char *absolute(const char *opt, const char *v)
{
	if (v[0] != '/') fatal("%s %s: the path must be absolute", opt, v);
	return v;
}

static long number(const char *opt, const char *v)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < 0) fatal("%s %s: not a number", opt, v);
	return n;
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	dprintf(2, "usage: ouzo-sandbox [--write PATH]… [--predict PATH]… [--scratch PATH=DIR]… [--expose PATH]…\n"
		   "         [--net none|loopback|host] [--ns mount,ipc,uts,pid] [--hostname NAME]\n"
		   "         [--landlock required|optional|off] [--min-abi N] [--no-devices] [--no-scope]\n"
		   "         [--uid N --gid N [--groups A,B]] [--chdir DIR] [--log FILE [--audit-enable]] [--phase NAME]\n"
		   "         -- PROGRAM [ARG]…\n"
		   "       ouzo-sandbox --probe\n");
	_exit(EXIT_SETUP);
}

/* ---- Landlock ---- */

/* The ABI version, or -errno when Landlock cannot be used. */
static int landlock_abi(void)
{
	long v = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	return v < 0 ? -errno : (int)v;
}

static const char *landlock_error_name(int err)
{
	switch (err) {
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: {
		static char buf[32];
		snprintf(buf, sizeof buf, "errno%d", err);
		return buf;
	}
	}
}

static const char *landlock_error_text(int err)
{
	switch (err) {
	case ENOSYS: return "the kernel was built without Landlock (CONFIG_SECURITY_LANDLOCK)";
	case EOPNOTSUPP: return "Landlock is not enabled: add landlock to the lsm= boot parameter";
	default: return strerror(err);
	}
}

/* Every write-type filesystem right this ABI knows (spec §8.6 step 7); reads and exec stay free. */
static uint64_t write_rights(int abi)
{
	uint64_t r = LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_CHAR | LL_FS_MAKE_DIR |
		     LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_BLOCK | LL_FS_MAKE_SYM;
	if (abi >= 2) r |= LL_FS_REFER;
	if (abi >= 3) r |= LL_FS_TRUNCATE;
	if (abi >= 5) r |= LL_FS_IOCTL_DEV;
	return r;
}

static void add_rule(int ruleset, uint64_t handled, const char *path, int fd, int quiet_missing)
{
	int own = fd < 0;
	if (own) fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && quiet_missing) return;
		if (errno == ENOENT || errno == ENOTDIR) {
			warn("--write %s: %s (skipped)", path, strerror(errno));
			return;
		}
		fatal("--write %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st)) fatal("--write %s: %s", path, strerror(errno));
	struct ll_path_beneath_attr pb = {
		.allowed_access = S_ISDIR(st.st_mode) ? handled : handled & LL_FILE_RIGHTS,
		.parent_fd = fd,
	};
	if (syscall(__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &pb, 0))
		fatal("Landlock rule for %s: %s", path, strerror(errno));
	if (own) close(fd);
}

/* ---- options ---- */

static void parse_ns(const char *list)
{
	char *copy = strdup(list), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "mount") || !strcmp(t, "mnt")) o.ns_mount = 1;
		else if (!strcmp(t, "ipc")) o.ns_ipc = 1;
		else if (!strcmp(t, "uts")) o.ns_uts = 1;
		else if (!strcmp(t, "pid")) o.ns_pid = 1;
		else if (!strcmp(t, "net")) o.ns_net_flag = 1;
		else if (*t) fatal("--ns %s: unknown namespace '%s' (mount, ipc, uts, pid, net)", list, t);
	}
	free(copy);
}

static void parse_groups(const char *list)
{
	char *copy = strdup(list), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		o.groups = realloc(o.groups, (o.ngroups + 1) * sizeof *o.groups);
		if (!o.groups) fatal("out of memory");
		o.groups[o.ngroups++] = (gid_t)number("--groups", t);
	}
	free(copy);
}

static void parse(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--no-devices")) { o.devices = 0; continue; }
		if (!strcmp(a, "--no-scope")) { o.scope = 0; continue; }
		if (!strcmp(a, "--audit-enable")) { o.audit_enable = 1; continue; }
		if (!strcmp(a, "--help")) usage();
		if (i + 1 >= argc) fatal("%s needs a value", a);
		const char *v = argv[++i];
		if (!strcmp(a, "--write")) o.write = push(o.write, &o.nwrite, absolute(a, v));
		else if (!strcmp(a, "--predict")) o.predict = push(o.predict, &o.npredict, absolute(a, v));
		else if (!strcmp(a, "--expose")) o.expose = push(o.expose, &o.nexpose, absolute(a, v));
		else if (!strcmp(a, "--scratch")) {
			const char *eq = strchr(v, '=');
			if (!eq) fatal("--scratch %s: expected PATH=DIR", v);
			o.scratch = realloc(o.scratch, (o.nscratch + 1) * sizeof *o.scratch);
			if (!o.scratch) fatal("out of memory");
			struct scratch *s = &o.scratch[o.nscratch++];
			s->path = absolute(a, strndup(v, (size_t)(eq - v)));
			s->backing = absolute(a, eq + 1);
			s->backing_fd = -1;
		} else if (!strcmp(a, "--net")) {
			if (!strcmp(v, "none")) o.net = NET_NONE;
			else if (!strcmp(v, "loopback")) o.net = NET_LOOPBACK;
			else if (!strcmp(v, "host")) o.net = NET_HOST;
			else fatal("--net %s: expected none, loopback or host", v);
		} else if (!strcmp(a, "--ns")) parse_ns(v);
		else if (!strcmp(a, "--hostname")) o.hostname = v;
		else if (!strcmp(a, "--landlock")) {
			if (!strcmp(v, "required")) o.landlock = LL_REQUIRED;
			else if (!strcmp(v, "optional")) o.landlock = LL_OPTIONAL;
			else if (!strcmp(v, "off")) o.landlock = LL_OFF;
			else fatal("--landlock %s: expected required, optional or off", v);
		} else if (!strcmp(a, "--min-abi")) o.min_abi = (int)number(a, v);
		else if (!strcmp(a, "--uid")) o.uid = number(a, v);
		else if (!strcmp(a, "--gid")) o.gid = number(a, v);
		else if (!strcmp(a, "--groups")) parse_groups(v);
		else if (!strcmp(a, "--chdir")) o.chdir = absolute(a, v);
		else if (!strcmp(a, "--log")) o.log = absolute(a, v);
		else if (!strcmp(a, "--phase")) o.phase = v;
		else fatal("unknown option %s", a);
	}
	if (i >= argc) fatal("no program given (… -- PROGRAM [ARG]…)");
	o.argv = argv + i;
	if (o.ns_net_flag && o.net == NET_HOST) {
		/* "--ns net" alone means the Portage network-sandbox: a namespace with loopback */
		o.net = NET_LOOPBACK;
	}
	if ((o.uid < 0) != (o.gid < 0)) fatal("--uid and --gid go together");
	if (o.nscratch || o.ns_pid) o.ns_mount = 1;
}

/* ---- audit (reporting, see the header) ---- */

/* The netlink message at *off in a datagram of n bytes (and *off moved past it), or NULL at the end. */
static struct nlmsghdr *next_message(char *buf, ssize_t n, size_t *off)
{
	if (n < 0 || *off + NLMSG_HDRLEN > (size_t)n) return NULL;
	struct nlmsghdr *h = (struct nlmsghdr *)(buf + *off);
	if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > (size_t)n - *off) return NULL;
	*off += NLMSG_ALIGN(h->nlmsg_len);
	return h;
}

static int audit_request(int fd, uint16_t type, const void *data, size_t len)
{
	struct {
		struct nlmsghdr h;
		char data[1024];
	} req;
	if (len > sizeof req.data) return -EINVAL;
	memset(&req, 0, sizeof req);
	req.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.h.nlmsg_seq = 1;
	memcpy(req.data, data, len);
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
	return 0;
}

/* AUDIT_GET on a fresh unicast socket: enabled (0, 1, 2 locked) or -errno. */
static int audit_get_enabled(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	if (fd < 0) return -errno;
	int r = audit_request(fd, AUDIT_GET, NULL, 0), enabled = -EPROTO;
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	for (int i = 0; r == 0 && i < 4; i++) {
		char buf[4096] __attribute__((aligned(8)));
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n < 0) { enabled = -errno; break; }
		struct nlmsghdr *h;
		for (size_t off = 0; (h = next_message(buf, n, &off));) {
			if (h->nlmsg_type == NLMSG_ERROR) {
				int e = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				if (e) { enabled = e; i = 4; }
			} else if (h->nlmsg_type == AUDIT_GET) {
				enabled = (int)((struct audit_status *)NLMSG_DATA(h))->enabled;
				i = 4;
			}
		}
	}
	if (r) enabled = r;
	close(fd);
	return enabled;
}

static int audit_set_enabled(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	if (fd < 0) return -errno;
	struct audit_status s;
	memset(&s, 0, sizeof s);
	s.mask = AUDIT_STATUS_ENABLED;
	s.enabled = 1;
	int r = audit_request(fd, AUDIT_SET, &s, sizeof s);
	if (!r) {
		char buf[1024];
		struct timeval tv = { .tv_sec = 2 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		if (n < 0) r = -errno;
		else if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) && h->nlmsg_type == NLMSG_ERROR) r = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	}
	close(fd);
	return r;
}

/* A socket bound to the read-only multicast group of audit records, or -errno. */
static int audit_listen(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_AUDIT);
	if (fd < 0) return -errno;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = AUDIT_NLGRP_READLOG };
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa)) {
		int e = errno;
		close(fd);
		return -e;
	}
	int size = 8 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size)) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	return fd;
}

/* What the audit side offers: "on", "off" (root may switch it on), "locked", "noperm", "unavailable". */
static const char *audit_state(void)
{
	int e = audit_get_enabled();
	if (e == -EPROTONOSUPPORT || e == -EAFNOSUPPORT || e == -ECONNREFUSED) return "unavailable";
	if (e < 0) return e == -EPERM || e == -EACCES ? "noperm" : "unavailable";
	int fd = audit_listen();
	if (fd < 0) return "noperm";
	close(fd);
	return e == 0 ? "off" : e == 2 ? "locked" : "on";
}

/* One denial being assembled from the records of its audit event (same serial). */
struct event {
	unsigned long serial;
	int used;
	char domain[32];
	char op[128];
	char path[PATH_MAX];
	long pid;
	char comm[64];
	char exe[PATH_MAX];
};
#define NEVENTS 64
static struct event events[NEVENTS];
static char our_domains[64][32];
static size_t nour_domains;
static pid_t restrictor = -1; /* the pid that called landlock_restrict_self, as the monitor sees it */
static int log_fd = -1;
static unsigned long lost_records;
static char flush_token[64];

/* The value of KEY in an audit record: quoted strings as is, unquoted ones of the untrusted-string
 * fields hex-decoded (audit_log_untrustedstring), "(null)" as empty. Returns 1 when found. */
static int field(const char *rec, const char *key, char *out, size_t outsz, int untrusted)
{
	size_t klen = strlen(key);
	const char *p = rec;
	while ((p = strstr(p, key))) {
		if ((p == rec || p[-1] == ' ') && p[klen] == '=') break;
		p += klen;
	}
	if (!p) return 0;
	p += klen + 1;
	size_t n = 0;
	if (*p == '"') {
		p++;
		while (*p && *p != '"' && n + 1 < outsz) out[n++] = *p++;
	} else {
		const char *end = p + strcspn(p, " \n");
		size_t len = (size_t)(end - p);
		int hex = untrusted && len % 2 == 0 && len > 0 && strspn(p, "0123456789ABCDEFabcdef") >= len;
		if (hex) {
			for (size_t i = 0; i < len && n + 1 < outsz; i += 2) {
				char b[3] = { p[i], p[i + 1], 0 };
				out[n++] = (char)strtol(b, NULL, 16);
			}
		} else {
			if (len == 6 && !strncmp(p, "(null)", 6)) len = 0;
			while (len-- && n + 1 < outsz) out[n++] = *p++;
		}
	}
	out[n] = 0;
	return 1;
}

static int beneath(const char *path, const char *prefix)
{
	size_t len = strlen(prefix);
	while (len > 1 && prefix[len - 1] == '/') len--;
	if (len == 1 && prefix[0] == '/') return path[0] == '/';
	return !strncmp(path, prefix, len) && (path[len] == 0 || path[len] == '/');
}

/* For creations and removals Landlock names the parent directory only: ouzo decides again once the
 * build log has named the file (src/build/sandbox.ts). */
static int predicted(const char *path)
{
	for (size_t i = 0; i < o.npredict; i++)
		if (beneath(path, o.predict[i])) return 1;
	return 0;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
		else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
		else fputc(*p, f);
	}
	fputc('"', f);
}

static int ours(const char *domain)
{
	for (size_t i = 0; i < nour_domains; i++)
		if (!strcmp(our_domains[i], domain)) return 1;
	return 0;
}

static void finish(struct event *e)
{
	if (!e->used) return;
	e->used = 0;
	if (log_fd < 0 || !ours(e->domain)) return;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) return;
	fputs("{\"phase\":", f);
	json_string(f, o.phase ? o.phase : "");
	fputs(",\"op\":", f);
	json_string(f, e->op);
	fputs(",\"path\":", f);
	json_string(f, e->path);
	fprintf(f, ",\"pid\":%ld,\"comm\":", e->pid);
	json_string(f, e->comm);
	fputs(",\"exe\":", f);
	json_string(f, e->exe);
	fprintf(f, ",\"predicted\":%s}\n", predicted(e->path) ? "true" : "false");
	fclose(f);
	if (write(log_fd, buf, len) < 0) warn("%s: %s", o.log, strerror(errno));
	free(buf);
}

static struct event *new_event(unsigned long serial)
{
	struct event *slot = NULL;
	for (size_t i = 0; i < NEVENTS; i++)
		if (!events[i].used && !slot) slot = &events[i];
	if (!slot) {
		/* full: the oldest serial is finished as it is */
		slot = &events[0];
		for (size_t i = 1; i < NEVENTS; i++)
			if (events[i].serial < slot->serial) slot = &events[i];
		finish(slot);
	}
	memset(slot, 0, sizeof *slot);
	slot->used = 1;
	slot->serial = serial;
	slot->pid = -1;
	return slot;
}

/* One record; returns 1 when it is our flush message. */
static int record(int type, const char *text)
{
	const char *s = strstr(text, "audit(");
	unsigned long serial = 0;
	if (s && (s = strchr(s, ':'))) serial = strtoul(s + 1, NULL, 10);
	if (type == REC_FLUSH) return flush_token[0] && strstr(text, flush_token) != NULL;
	if (type == REC_LANDLOCK_ACCESS) {
		struct event *e = new_event(serial);
		field(text, "domain", e->domain, sizeof e->domain, 0);
		field(text, "blockers", e->op, sizeof e->op, 0);
		if (!field(text, "path", e->path, sizeof e->path, 1)) {
			char a[64] = "", b[PATH_MAX] = "";
			if (field(text, "opid", a, sizeof a, 0)) { /* scope.signal */
				field(text, "ocomm", b, sizeof b, 1);
				snprintf(e->path, sizeof e->path, "pid %s (%s)", a, b);
			} else if (field(text, "sun_path", b, sizeof b, 1)) /* scope.abstract_unix_socket */
				snprintf(e->path, sizeof e->path, "@%s", b);
			else if (field(text, "dest", a, sizeof a, 0) || field(text, "src", a, sizeof a, 0)) /* net.* */
				snprintf(e->path, sizeof e->path, "port %s", a);
		}
	} else if (type == REC_LANDLOCK_DOMAIN) {
		char domain[32] = "", status[32] = "", pid[32] = "";
		field(text, "domain", domain, sizeof domain, 0);
		field(text, "status", status, sizeof status, 0);
		if (!strcmp(status, "allocated") && field(text, "pid", pid, sizeof pid, 0) && atol(pid) == restrictor &&
		    nour_domains < sizeof our_domains / sizeof *our_domains && !ours(domain))
			snprintf(our_domains[nour_domains++], sizeof *our_domains, "%s", domain);
	} else if (type == REC_SYSCALL) {
		char pid[32] = "";
		for (size_t i = 0; i < NEVENTS; i++) {
			struct event *e = &events[i];
			if (!e->used || e->serial != serial) continue;
			if (field(text, "pid", pid, sizeof pid, 0)) e->pid = atol(pid);
			field(text, "comm", e->comm, sizeof e->comm, 1);
			field(text, "exe", e->exe, sizeof e->exe, 1);
		}
	} else if (type == REC_EOE) {
		for (size_t i = 0; i < NEVENTS; i++)
			if (events[i].used && events[i].serial == serial) finish(&events[i]);
	}
	return 0;
}

/* Read what is queued; returns 1 once our flush message came back. */
static int drain(int fd)
{
	int flushed = 0;
	for (;;) {
		char buf[16384] __attribute__((aligned(8)));
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR) continue;
			if (errno == ENOBUFS) { lost_records++; continue; }
			return flushed;
		}
		struct nlmsghdr *h;
		for (size_t off = 0; (h = next_message(buf, n, &off));) {
			size_t len = h->nlmsg_len - NLMSG_HDRLEN;
			char text[16384];
			if (len >= sizeof text) len = sizeof text - 1;
			memcpy(text, NLMSG_DATA(h), len);
			text[len] = 0;
			if (record(h->nlmsg_type, text)) flushed = 1;
		}
	}
}

/* ---- namespaces and mounts ---- */

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) < 0) fatal("%s: %s", path, strerror(errno));
	close(fd);
}

/* Rootless: a user namespace mapping the caller's own ids gives the capabilities the other
 * namespaces need. */
static int enter_user_namespace(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (unshare(CLONE_NEWUSER)) return -errno;
	char map[64];
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
	write_file("/proc/self/gid_map", map);
	return 0;
}

static void mkdir_p(const char *path, int leaf_is_file)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == 0) {
			char c = *p;
			*p = 0;
			if (c == 0 && leaf_is_file) {
				int fd = open(buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
				if (fd < 0 && errno != EEXIST && errno != EISDIR) fatal("mount point %s: %s", buf, strerror(errno));
				if (fd >= 0) close(fd);
			} else if (mkdir(buf, 0755) && errno != EEXIST)
				fatal("mount point %s: %s", buf, strerror(errno));
			if (c == 0) break;
			*p = c;
		}
	}
}

static void bind_fd(int fd, const char *target)
{
	char src[64];
	snprintf(src, sizeof src, "/proc/self/fd/%d", fd);
	if (mount(src, target, NULL, MS_BIND | MS_REC, NULL)) fatal("cannot bind %s back: %s", target, strerror(errno));
}

#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
struct mount_attr_v0 {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* Read-only, with whatever is mounted beneath (mount_setattr, Linux 5.12; else the top mount only). */
static void make_read_only(const char *path)
{
	struct mount_attr_v0 attr = { .attr_set = 0x1 /* MOUNT_ATTR_RDONLY */ };
	if (syscall(__NR_mount_setattr, AT_FDCWD, path, 0x8000 /* AT_RECURSIVE */, &attr, sizeof attr) == 0) return;
	if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL))
		fatal("cannot make %s read-only: %s", path, strerror(errno));
}

/* Private /tmp, /var/tmp, /dev/shm (spec §8.6 step 4): each backing directory is bound over its
 * path, then the allowed and exposed paths that lived beneath it are bound back where they were.
 * Exposed paths come back read-only: Landlock judges a path by the mounts it is reached through,
 * and beneath the writable scratch everything would be writable. */
static void setup_scratch(void)
{
	struct keep {
		char path[PATH_MAX];
		int fd;
		int is_dir;
		int writable;
	} *keep = NULL;
	size_t nkeep = 0;
	/* open everything first: later mounts hide the paths */
	for (size_t i = 0; i < o.nscratch; i++) {
		struct scratch *s = &o.scratch[i];
		if (!realpath(s->path, s->real)) fatal("--scratch %s: %s", s->path, strerror(errno));
		s->backing_fd = open(s->backing, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (s->backing_fd < 0) fatal("--scratch %s=%s: %s", s->path, s->backing, strerror(errno));
	}
	for (size_t k = 0; k < o.nwrite + o.nexpose; k++) {
		const char *p = k < o.nwrite ? o.write[k] : o.expose[k - o.nwrite];
		char real[PATH_MAX];
		if (!realpath(p, real)) continue;
		int under = 0;
		for (size_t i = 0; i < o.nscratch; i++)
			if (beneath(real, o.scratch[i].real) && strcmp(real, o.scratch[i].real)) under = 1;
		if (!under) continue;
		int writable = k < o.nwrite, dup = 0;
		for (size_t j = 0; j < nkeep; j++)
			if (!strcmp(keep[j].path, real)) {
				keep[j].writable |= writable;
				dup = 1;
			}
		if (dup) continue;
		keep = realloc(keep, (nkeep + 1) * sizeof *keep);
		if (!keep) fatal("out of memory");
		snprintf(keep[nkeep].path, sizeof keep[nkeep].path, "%s", real);
		keep[nkeep].writable = writable;
		keep[nkeep].fd = open(real, O_PATH | O_CLOEXEC);
		struct stat st;
		if (keep[nkeep].fd < 0 || fstat(keep[nkeep].fd, &st)) fatal("%s: %s", real, strerror(errno));
		keep[nkeep].is_dir = S_ISDIR(st.st_mode);
		nkeep++;
	}
	for (size_t i = 0; i < o.nscratch; i++) bind_fd(o.scratch[i].backing_fd, o.scratch[i].real);
	/* shorter paths first, so a kept path inside another kept one lands on top */
	for (size_t i = 0; i < nkeep; i++)
		for (size_t j = i + 1; j < nkeep; j++)
			if (strlen(keep[j].path) < strlen(keep[i].path)) {
				struct keep t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
	for (size_t i = 0; i < nkeep; i++) {
		/* visible through an enclosing bind already, unless it must be writable inside a read-only one */
		int covered = 0;
		for (size_t j = 0; j < i; j++)
			if (keep[j].is_dir && beneath(keep[i].path, keep[j].path) && (keep[j].writable || !keep[i].writable)) covered = 1;
		if (!covered) {
			mkdir_p(keep[i].path, !keep[i].is_dir);
			bind_fd(keep[i].fd, keep[i].path);
			if (!keep[i].writable) make_read_only(keep[i].path);
		}
		close(keep[i].fd);
	}
	free(keep);
}

static int loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	int r = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (!r) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	int e = errno;
	close(s);
	return r ? -e : 0;
}

/* ---- the restricted side ---- */

static int abi;
static int net_fallback; /* no network namespace: Landlock denies TCP bind/connect instead */

/* no_new_privs, capabilities, Landlock (spec §8.6 steps 6–7). Domains are inherited by children. */
static void restrict_self(int logging)
{
	if (o.landlock == LL_OFF) return;
	if (geteuid() == 0) {
		/* a root phase keeps its file capabilities but not these */
		static const int drop[] = { 21 /* SYS_ADMIN */, 16 /* SYS_MODULE */, 17 /* SYS_RAWIO */,
					    22 /* SYS_BOOT */, 25 /* SYS_TIME */, 19 /* SYS_PTRACE */ };
		for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
			if (prctl(PR_CAPBSET_DROP, drop[i], 0, 0, 0) && errno != EINVAL) fatal("dropping capability %d: %s", drop[i], strerror(errno));
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) fatal("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (abi <= 0) return; /* --landlock optional on a kernel without it (warned) */
	uint64_t handled = write_rights(abi);
	struct ll_ruleset_attr attr = {
		.handled_access_fs = handled,
		.handled_access_net = net_fallback && abi >= 4 ? LL_NET_BIND_TCP | LL_NET_CONNECT_TCP : 0,
		.scoped = o.scope && abi >= 6 ? LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL : 0,
	};
	int rs = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (rs < 0) fatal("landlock_create_ruleset: %s", strerror(errno));
	for (size_t i = 0; i < o.nwrite; i++) add_rule(rs, handled, o.write[i], -1, 0);
	for (size_t i = 0; i < o.nscratch; i++) add_rule(rs, handled, o.scratch[i].backing, o.scratch[i].backing_fd, 0);
	if (o.devices)
		for (size_t i = 0; i < sizeof DEVICES / sizeof *DEVICES; i++) add_rule(rs, handled, DEVICES[i], -1, 1);
	uint32_t flags = logging && abi >= 7 ? LL_RESTRICT_SELF_LOG_NEW_EXEC_ON : 0;
	if (syscall(__NR_landlock_restrict_self, rs, flags)) fatal("landlock_restrict_self: %s", strerror(errno));
	close(rs);
}

static void become_user(void)
{
	if (o.uid < 0) return;
	if (setgroups(o.ngroups, o.groups)) fatal("setgroups: %s", strerror(errno));
	if (setresgid((gid_t)o.gid, (gid_t)o.gid, (gid_t)o.gid)) fatal("setresgid %ld: %s", o.gid, strerror(errno));
	if (setresuid((uid_t)o.uid, (uid_t)o.uid, (uid_t)o.uid)) fatal("setresuid %ld: %s", o.uid, strerror(errno));
}

static void run_program(void) __attribute__((noreturn));
static void run_program(void)
{
	execvp(o.argv[0], o.argv);
	int e = errno;
	dprintf(2, "ouzo-sandbox: cannot run %s: %s\n", o.argv[0], strerror(e));
	_exit(e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

static const int FORWARDED[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static int status_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : EXIT_SETUP;
}

static void unblock_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* PID 1 of the new PID namespace: /proc, the restriction, the worker, then reap until it ends.
 * When init exits the kernel kills whatever is left in the namespace. */
static void init_main(int logging) __attribute__((noreturn));
static void init_main(int logging)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) fatal("mounting /proc: %s", strerror(errno));
	restrict_self(logging);
	pid_t worker = fork();
	if (worker < 0) fatal("fork: %s", strerror(errno));
	if (worker == 0) {
		unblock_signals();
		become_user();
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		run_program();
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof FORWARDED / sizeof *FORWARDED; i++) sigaddset(&set, FORWARDED[i]);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0) continue;
		if (sig != SIGCHLD) {
			kill(worker, sig);
			continue;
		}
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			if (p == worker) _exit(status_code(st));
	}
}

static void close_inherited(const int *keep, size_t nkeep)
{
	/* the monitor holds no pipe of the caller open longer than the sandboxed program */
	for (int fd = 0; fd < 1024; fd++) {
		int k = fd == 2;
		for (size_t i = 0; i < nkeep; i++)
			if (keep[i] == fd) k = 1;
		if (!k) close(fd);
	}
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* The helper outside the sandbox: forwards signals, reads audit records, relays the status. */
static int monitor(pid_t child, int audit_fd)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof FORWARDED / sizeof *FORWARDED; i++) sigaddset(&set, FORWARDED[i]);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		kill(child, SIGKILL);
		fatal("signalfd: %s", strerror(errno));
	}
	int keep[] = { sfd, audit_fd, log_fd };
	close_inherited(keep, 3);
	int status = -1;
	while (status < 0) {
		struct pollfd p[2] = { { sfd, POLLIN, 0 }, { audit_fd, POLLIN, 0 } };
		if (poll(p, audit_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) break;
		if (audit_fd >= 0 && p[1].revents) drain(audit_fd);
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof si) == sizeof si) {
			if (si.ssi_signo != SIGCHLD) kill(child, (int)si.ssi_signo);
		}
		int st;
		if (waitpid(child, &st, WNOHANG) == child) status = status_code(st);
	}
	if (audit_fd >= 0) {
		/* every record queued before this message reaches us before it */
		snprintf(flush_token, sizeof flush_token, "ouzo-sandbox-end-%d-%ld", (int)getpid(), (long)time(NULL));
		char msg[128];
		snprintf(msg, sizeof msg, "op=%s", flush_token);
		int sent = audit_request(audit_fd, REC_FLUSH, msg, strlen(msg) + 1) == 0;
		/* a safety net against a lost message, not a wait: the answer normally takes microseconds */
		long deadline = now_ms() + 3000;
		while (sent && !drain(audit_fd)) {
			long left = deadline - now_ms();
			if (left <= 0) {
				warn("the kernel's audit stream did not catch up; denials may be missing from %s", o.log);
				break;
			}
			struct pollfd p = { audit_fd, POLLIN, 0 };
			poll(&p, 1, (int)left);
		}
		for (size_t i = 0; i < NEVENTS; i++) finish(&events[i]);
		if (lost_records) warn("%lu audit records were lost (socket overrun); %s may be incomplete", lost_records, o.log);
	}
	return status < 0 ? EXIT_SETUP : status;
}

/* ---- probe ---- */

static int probe(void)
{
	int v = landlock_abi();
	printf("version=1 landlock=%d", v > 0 ? v : 0);
	if (v < 0) printf(" landlock_error=%s", landlock_error_name(-v));
	FILE *f = fopen("/sys/kernel/security/lsm", "re");
	if (f) {
		char lsm[256] = "";
		if (fgets(lsm, sizeof lsm, f)) {
			lsm[strcspn(lsm, " \n")] = 0;
			printf(" lsm=%s", lsm);
		}
		fclose(f);
	}
	/* each namespace tried in a throw-away child */
	static const struct { const char *name; int flag; } ns[] = {
		{ "mountns", CLONE_NEWNS }, { "netns", CLONE_NEWNET }, { "ipcns", CLONE_NEWIPC },
		{ "utsns", CLONE_NEWUTS }, { "pidns", CLONE_NEWPID },
	};
	fflush(stdout);
	int userns = 0, bits = 0;
	pid_t c = fork();
	if (c == 0) {
		int r = 0;
		if (unshare(CLONE_NEWUSER) == 0) r |= 1 << 7;
		/* rootless: the other namespaces need the user namespace; root: try them as they are */
		for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
			if (unshare(ns[i].flag) == 0) r |= 1 << i;
		_exit(r);
	}
	if (c > 0) {
		int st;
		waitpid(c, &st, 0);
		if (WIFEXITED(st)) bits = WEXITSTATUS(st);
	}
	if (geteuid() == 0) {
		/* as root the user namespace above was a trial of its own: retry the rest without it */
		c = fork();
		if (c == 0) {
			int r = 0;
			for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
				if (unshare(ns[i].flag) == 0) r |= 1 << i;
			_exit(r);
		}
		if (c > 0) {
			int st;
			waitpid(c, &st, 0);
			if (WIFEXITED(st)) bits = (bits & (1 << 7)) | WEXITSTATUS(st);
		}
	}
	userns = (bits >> 7) & 1;
	printf(" userns=%d", userns);
	for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) printf(" %s=%d", ns[i].name, (bits >> i) & 1);
	const char *audit = audit_state();
	int reporting = v >= 7 && (!strcmp(audit, "on") || !strcmp(audit, "off") || !strcmp(audit, "locked"));
	printf(" audit=%s reporting=%s root=%d\n", audit, reporting ? "audit" : "none", geteuid() == 0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--probe")) return probe();
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		puts("ouzo-sandbox 1");
		return 0;
	}
	parse(argc, argv);

	abi = o.landlock == LL_OFF ? 0 : landlock_abi();
	if (o.landlock != LL_OFF && abi < o.min_abi) {
		char why[256];
		if (abi < 0) snprintf(why, sizeof why, "%s", landlock_error_text(-abi));
		else snprintf(why, sizeof why, "Landlock ABI %d is older than the %d needed", abi, o.min_abi);
		if (o.landlock == LL_REQUIRED) fatal("%s; the filesystem sandbox cannot run (FEATURES=-sandbox runs without it)", why);
		warn("%s: running without the filesystem sandbox", why);
		abi = 0;
	}
	if (o.uid >= 0 && geteuid() != 0) fatal("--uid needs root");

	int logging = 0, audit_fd = -1;
	if (o.log) {
		log_fd = open(o.log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
		if (log_fd < 0) fatal("--log %s: %s", o.log, strerror(errno));
		if (abi >= 7) {
			int enabled = audit_get_enabled();
			if (enabled == 0 && o.audit_enable) {
				int r = audit_set_enabled();
				if (r) warn("cannot switch kernel auditing on: %s", strerror(-r));
				else enabled = 1;
			}
			if (enabled > 0) {
				audit_fd = audit_listen();
				if (audit_fd < 0) audit_fd = -1;
				else logging = 1;
			}
		}
	}

	/* namespaces: the monitor enters them too (its audit socket stays in the initial network
	 * namespace it was made in); the new PID namespace applies to its children only */
	int want = (o.ns_mount ? CLONE_NEWNS : 0) | (o.ns_ipc ? CLONE_NEWIPC : 0) | (o.ns_uts ? CLONE_NEWUTS : 0) |
		   (o.ns_pid ? CLONE_NEWPID : 0) | (o.net != NET_HOST ? CLONE_NEWNET : 0);
	int have = 0;
	if (want && geteuid() != 0) {
		int r = enter_user_namespace();
		if (r) warn("unable to unshare user: %s (rootless namespaces unavailable)", strerror(-r));
	}
	if (want && unshare(want) == 0) have = want;
	else if (want) {
		static const struct { int flag; const char *name; } names[] = {
			{ CLONE_NEWNS, "mount" }, { CLONE_NEWIPC, "ipc" }, { CLONE_NEWUTS, "uts" },
			{ CLONE_NEWPID, "pid" }, { CLONE_NEWNET, "net" },
		};
		for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
			if (!(want & names[i].flag)) continue;
			if (unshare(names[i].flag) == 0) have |= names[i].flag;
			else warn("unable to unshare %s: %s", names[i].name, strerror(errno));
		}
	}
	if ((want & CLONE_NEWPID) && !(have & CLONE_NEWNS)) have &= ~CLONE_NEWPID; /* no fresh /proc without it */
	char cwd[PATH_MAX] = "";
	if (!o.chdir && !getcwd(cwd, sizeof cwd)) cwd[0] = 0;
	if (have & CLONE_NEWNS) {
		if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) fatal("making / a slave mount: %s", strerror(errno));
		if (o.nscratch) setup_scratch();
	} else if (o.nscratch) {
		/* no private /tmp: the shared one is writable, as in Portage */
		warn("no mount namespace: --scratch paths are shared, not private");
		for (size_t i = 0; i < o.nscratch; i++) o.write = push(o.write, &o.nwrite, o.scratch[i].path);
		o.nscratch = 0;
	}
	if (have & CLONE_NEWUTS) {
		const char *h = o.hostname ? o.hostname : "localhost";
		if (sethostname(h, strlen(h))) fatal("sethostname: %s", strerror(errno));
	}
	if (have & CLONE_NEWNET) {
		if (o.net == NET_LOOPBACK) {
			int r = loopback_up();
			if (r) fatal("bringing lo up: %s", strerror(-r));
		}
	} else if (o.net != NET_HOST) {
		net_fallback = 1;
		if (abi >= 4) warn("no network namespace: Landlock refuses TCP instead (UDP is not covered)");
		else warn("no network namespace and no Landlock network rights: the network stays reachable");
	}
	const char *dir = o.chdir ? o.chdir : cwd;
	if (dir[0] && chdir(dir)) {
		if (o.chdir) fatal("--chdir %s: %s", o.chdir, strerror(errno));
	}

	if ((have & CLONE_NEWPID) || audit_fd >= 0) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGCHLD);
		for (size_t i = 0; i < sizeof FORWARDED / sizeof *FORWARDED; i++) sigaddset(&set, FORWARDED[i]);
		sigprocmask(SIG_BLOCK, &set, NULL);
		pid_t parent = getpid();
		pid_t child = fork();
		if (child < 0) fatal("fork: %s", strerror(errno));
		if (child == 0) {
			if (audit_fd >= 0) close(audit_fd);
			if (log_fd >= 0) close(log_fd);
			if (have & CLONE_NEWPID) init_main(logging);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent) _exit(EXIT_SETUP);
			restrict_self(logging);
			unblock_signals();
			become_user();
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			run_program();
		}
		restrictor = child;
		return monitor(child, audit_fd);
	}
	/* nothing to watch: the helper becomes the program */
	restrict_self(logging);
	become_user();
	run_program();
}
