/* core/server/crash.c - a worker that dies of a fatal signal first says, in one log line, which module
 * code was running and which request it was serving; then it dies of the same signal, so the
 * master logs the real cause and respawns it. Only async-signal-safe calls here.
 *
 * The handler reaches the worker through the one pointer below: a signal handler gets no
 * context, and there is exactly one worker per process.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/crash_thread.h"
#include "server/crash.h"
#include "server/worker.h"
#include "http/request.h"
#include "base/log.h"
#include "base/shm.h"

#define LINE_MAX_LEN 1024
#define TARGET_SHOWN 200

static struct worker *watched;
/* Shared by every worker, see crash_budget_map(); a handler can only find it here. */
struct crash_budget {
	_Atomic uint64_t since; /* ms, CLOCK_MONOTONIC: start of the window */
	atomic_uint used;	/* reports written in it */
};
static struct crash_budget *budget;
/* The handler's own stack; in BSS, so only the pages a crash touches cost memory. */
static char altstack[64 * 1024] __attribute__((aligned(16)));

struct line {
	char buf[LINE_MAX_LEN];
	size_t len;
};

static void add(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - 1 - l->len)
		n = sizeof(l->buf) - 1 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void adds(struct line *l, const char *s)
{
	add(l, s, strlen(s));
}

static void add_uint(struct line *l, unsigned long v, unsigned base)
{
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	add(l, tmp + i, sizeof(tmp) - (size_t)i);
}

/* Request bytes are the client's: printable ASCII only, so the line stays one line. */
static void add_clean(struct line *l, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';

		add(l, &ch, 1);
	}
}

static void add_padded(struct line *l, unsigned long v, int width)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (width-- > n)
		adds(l, "0");
	while (n)
		add(l, &digits[--n], 1);
}

/* The time as log.c writes it (2026-01-31T12:00:00.000Z), without gmtime_r(), which is
 * not async-signal-safe: days to a civil date after Howard Hinnant's days_from_civil. */
static void add_timestamp(struct line *l)
{
	struct timespec ts;
	long days, secs, era, doe, yoe, doy, mp, y, mon, d;

	clock_gettime(CLOCK_REALTIME, &ts);
	days = ts.tv_sec / 86400;
	secs = ts.tv_sec % 86400;
	days += 719468;
	era = days / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	mon = mp < 10 ? mp + 3 : mp - 9;
	y += mon <= 2;
	add_padded(l, (unsigned long)y, 4);
	adds(l, "-");
	add_padded(l, (unsigned long)mon, 2);
	adds(l, "-");
	add_padded(l, (unsigned long)d, 2);
	adds(l, "T");
	add_padded(l, (unsigned long)(secs / 3600), 2);
	adds(l, ":");
	add_padded(l, (unsigned long)(secs / 60 % 60), 2);
	adds(l, ":");
	add_padded(l, (unsigned long)(secs % 60), 2);
	adds(l, ".");
	add_padded(l, (unsigned long)(ts.tv_nsec / 1000000), 3);
	adds(l, "Z");
}

int crash_budget_map(void)
{
	void *p = mmap(NULL, sizeof(*budget), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	budget = p;
	return 0;
}

/* Whether this report fits the budget; lock-free, so async-signal-safe. */
static bool report_allowed(const struct config *cfg)
{
	struct timespec ts;
	uint64_t now, since;

	if (!budget)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	since = atomic_load(&budget->since);
	if (now - since >= cfg->recover_window_ms &&
	    atomic_compare_exchange_strong(&budget->since, &since, now))
		atomic_store(&budget->used, 0);
	return atomic_fetch_add(&budget->used, 1) < cfg->recover_max;
}

/* The master's watchdog queues SIGABRT with a value; abort() and kill() send none. */
static bool from_watchdog(int sig, const siginfo_t *si)
{
	return sig == SIGABRT && si->si_code == SI_QUEUE && si->si_pid == watched->master;
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	const struct crash_context *ctx = &watched->http.crash;
	const char *thread_suffix, *thread_what = crash_thread_what(&thread_suffix);
	const struct warren_request *r = ctx->r;
	const char *abbrev = sigabbrev_np(sig);
	struct line l = {.len = 0};
	bool watchdog = from_watchdog(sig, si);
	int saved = errno;
	size_t msg_at;

	(void)uc;
	add_timestamp(&l);
	adds(&l, " [");
	add_uint(&l, (unsigned long)getpid(), 10);
	adds(&l, "] error: ");
	msg_at = l.len;
	adds(&l, "worker ");
	add_uint(&l, watched->id, 10);
	if (watchdog) {
		/* The master's watchdog found the loop stuck; the value is watchdog.kill. */
		unsigned ms = (unsigned)si->si_value.sival_int;

		adds(&l, ": watchdog: no loop progress for ");
		add_uint(&l, ms % 1000 ? ms : ms / 1000, 10);
		adds(&l, ms % 1000 ? " ms" : " s");
	} else {
		adds(&l, ": fatal signal SIG");
		adds(&l, abbrev ? abbrev : "?");
	}
	/* Only a fault the kernel raised has an address; raise() and kill() have none. */
	if ((sig == SIGSEGV || sig == SIGBUS) && si->si_code > 0) {
		adds(&l, " at address 0x");
		add_uint(&l, (unsigned long)si->si_addr, 16);
	}
	if (thread_what && !watchdog) {
		adds(&l, " in ");
		adds(&l, thread_what);
		adds(&l, thread_suffix);
		r = NULL; /* the loop's request, not necessarily this thread's */
	} else if (ctx->what) {
		adds(&l, watchdog ? " in module call " : " in ");
		adds(&l, ctx->what);
	} else {
		adds(&l, " in the core");
	}
	if (r && r->headers_done) {
		const char *target = request_bytes(r) + r->url_off;
		size_t n = r->url_len < TARGET_SHOWN ? r->url_len : TARGET_SHOWN;

		adds(&l, " while serving \"");
		adds(&l, http_method_str((enum http_method)r->method));
		adds(&l, " ");
		add_clean(&l, target, n);
		adds(&l, n < r->url_len ? "...\"" : "\"");
	}
	warren__log_note(l.buf + msg_at, l.len - msg_at);
	adds(&l, "\n");
	if (report_allowed(watched->cfg))
		while (write(STDERR_FILENO, l.buf, l.len) < 0 && errno == EINTR)
			;
	errno = saved;
	/* SA_RESETHAND restored the default action: die of the real signal. */
	raise(sig);
}

int crash_guard_install(struct worker *w)
{
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	struct sigaction sa;
	stack_t ss;

	/* An overflowed stack cannot run the handler: give it its own. */
	ss.ss_size = sizeof(altstack);
	ss.ss_sp = altstack;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) < 0)
		return -errno;
	watched = w;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++)
		if (sigaction(fatal[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}

/* ---- Module hooks in the master ----------------------------------------------------- */

/* Process-wide: a signal handler gets no context, and a trial child writes it for the
 * master to read, so it cannot live in the master struct. */
static struct hook_trace *trace;

int hook_trace_map(void)
{
	void *p;

	if (trace)
		return 0;
	p = mmap(NULL, sizeof(*trace), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	trace = p;
	return 0;
}

void hook_enter(const char *module, const char *hook)
{
	shm_call_enter();
	if (!trace)
		return;
	snprintf(trace->module, sizeof(trace->module), "%s", module);
	snprintf(trace->hook, sizeof(trace->hook), "%s", hook);
}

void hook_leave(void)
{
	if (shm_call_kept())
		shm_release_held("", "module \"%s\": %s", trace ? trace->module : "?",
				 trace ? trace->hook : "?");
	shm_call_leave();
	if (trace)
		trace->module[0] = trace->hook[0] = '\0';
}

void hook_trace_describe(char *buf, size_t len)
{
	if (trace && trace->module[0])
		snprintf(buf, len, "module \"%s\": %s", trace->module, trace->hook);
	else
		snprintf(buf, len, "%s", "");
}

static void on_fatal_in_hook(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	struct line l = {.len = 0};
	int saved = errno;

	if (trace && trace->module[0]) {
		adds(&l, "warren: module \"");
		add(&l, trace->module, strnlen(trace->module, sizeof(trace->module)));
		adds(&l, "\": ");
		add(&l, trace->hook, strnlen(trace->hook, sizeof(trace->hook)));
		adds(&l, " crashed (SIG");
		adds(&l, abbrev ? abbrev : "?");
		adds(&l, ")\n");
		while (write(STDERR_FILENO, l.buf, l.len) < 0 && errno == EINTR)
			;
	}
	errno = saved;
	raise(sig);
}

int crash_guard_hooks(void)
{
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_in_hook;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++)
		if (sigaction(fatal[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}
