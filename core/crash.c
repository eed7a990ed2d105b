/* core/crash.c - a worker that dies of a fatal signal first says, in one log line, which module
 * code was running and which request it was serving; then it dies of the same signal, so the
 * master logs the real cause and respawns it. Only async-signal-safe calls here.
 *
 * The handler reaches the worker through the one pointer below: a signal handler gets no
 * context, and there is exactly one worker per process.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"
#include "http.h"
#include "log.h"

#define LINE_MAX_LEN 1024
#define TARGET_SHOWN 200

static struct worker *watched;
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

/* The master's watchdog queues SIGABRT with a value; abort() and kill() send none. */
static bool from_watchdog(int sig, const siginfo_t *si)
{
	return sig == SIGABRT && si->si_code == SI_QUEUE && si->si_pid == watched->master;
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	const struct crash_context *ctx = &watched->crash;
	const char *abbrev = sigabbrev_np(sig);
	struct line l = {.len = 0};
	bool watchdog = from_watchdog(sig, si);
	int saved = errno;

	(void)uc;
	adds(&l, "[");
	add_uint(&l, (unsigned long)getpid(), 10);
	adds(&l, "] error: worker ");
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
	if (ctx->what) {
		adds(&l, watchdog ? " in module call " : " in ");
		adds(&l, ctx->what);
	} else {
		adds(&l, " in the core");
	}
	if (ctx->c && ctx->c->req.headers_done) {
		const struct warren_request *r = &ctx->c->req;
		const char *target = ctx->c->rbuf + ctx->c->req_start + r->url_off;
		size_t n = r->url_len < TARGET_SHOWN ? r->url_len : TARGET_SHOWN;

		adds(&l, " while serving \"");
		adds(&l, http_method_str((enum http_method)r->method));
		adds(&l, " ");
		add_clean(&l, target, n);
		adds(&l, n < r->url_len ? "...\"" : "\"");
	}
	adds(&l, "\n");
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
