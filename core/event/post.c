/* core/event/post.c - the queue of work posted to the event loop's next turn. A run takes
 * the whole queue at once, so work that posts more (or re-posts itself) cannot keep one
 * turn from ending: the loop waits, with a zero timeout, between two runs. */
#include "base/common.h"
#include "event/post.h"

static void node_self(struct rx_post_node *n)
{
	n->prev = n;
	n->next = n;
}

static void node_unlink(struct rx_post_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	node_self(n);
}

static void node_append(struct rx_post_node *head, struct rx_post_node *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

void post_init(struct rx_post *p, rx_post_fn fn, void *arg)
{
	node_self(&p->node);
	p->fn = fn;
	p->arg = arg;
}

void post_queue_init(struct post_queue *q)
{
	node_self(&q->head);
}

bool post_is_posted(const struct rx_post *p)
{
	return p->node.next != &p->node;
}

void post_add(struct post_queue *q, struct rx_post *p)
{
	if (!post_is_posted(p))
		node_append(&q->head, &p->node);
}

void post_cancel(struct rx_post *p)
{
	if (post_is_posted(p))
		node_unlink(&p->node);
}

bool post_queue_empty(const struct post_queue *q)
{
	return q->head.next == &q->head;
}

unsigned post_queue_run(struct post_queue *q)
{
	struct rx_post_node batch;
	unsigned n = 0;

	if (post_queue_empty(q))
		return 0;
	/* Move the entries to a list of this run's own; a cancel still unlinks them there. */
	batch.next = q->head.next;
	batch.prev = q->head.prev;
	batch.next->prev = &batch;
	batch.prev->next = &batch;
	node_self(&q->head);
	while (batch.next != &batch) {
		struct rx_post *p = container_of(batch.next, struct rx_post, node);

		/* Unlinked before it runs: it may post itself again, or free itself. */
		node_unlink(&p->node);
		p->fn(p->arg);
		n++;
	}
	return n;
}

void post_queue_drop(struct post_queue *q)
{
	while (!post_queue_empty(q))
		node_unlink(q->head.next);
}
