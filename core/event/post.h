/* core/event/post.h - work posted to run on the event loop's next turn: a deferred call
 * without a timer, for code that must not run inside the callback that wants it. */
#ifndef WARREN_CORE_POST_H
#define WARREN_CORE_POST_H

#include <stdbool.h>

typedef void (*rx_post_fn)(void *arg);

/* Two-way links, so that a cancel unlinks in constant time wherever the entry is. */
struct rx_post_node {
	struct rx_post_node *prev, *next;
};

/*
 * Embedded in its owner, which keeps it alive while posted (or cancels it first). Set up
 * with post_init(); fn and arg may be changed while it is not posted.
 */
struct rx_post {
	struct rx_post_node node; /* linked to itself while not posted */
	rx_post_fn fn;
	void *arg;
};

/* The posted entries of one loop, in the order they were posted. */
struct post_queue {
	struct rx_post_node head;
};

void post_init(struct rx_post *p, rx_post_fn fn, void *arg);

void post_queue_init(struct post_queue *q);

/* True while @p waits in a queue for its turn. */
bool post_is_posted(const struct rx_post *p);

/* Appends @p to @q; does nothing if @p is posted already (it keeps its place). */
void post_add(struct post_queue *q, struct rx_post *p);

/* Takes @p out of its queue if it is posted: its fn will not run. */
void post_cancel(struct rx_post *p);

bool post_queue_empty(const struct post_queue *q);

/*
 * Runs, in order, what was posted to @q before this call. What they post (themselves
 * included) waits for the next call; what they cancel does not run. Returns how many ran.
 */
unsigned post_queue_run(struct post_queue *q);

/* Unlinks every entry without running it, for a loop being destroyed. */
void post_queue_drop(struct post_queue *q);

#endif /* WARREN_CORE_POST_H */
