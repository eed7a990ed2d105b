/* core/http/request_info.c - the calls of the public module ABI about a request's life rather
 * than its message: per-module request context and route config, how the request ended, and
 * what an access log records (timing, sizes, ids). Each reads what the request keeps anyway,
 * or computes its answer when asked, so that requests nobody logs pay nothing for them. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http/async.h"
#include "http/request.h"
#include "http/response.h"

WARREN_API void *warren_req_ctx(struct warren_request *r)
{
	struct http_loop *loop;
	uint32_t slot;

	/* A work function has no module call of the loop's to go by, and the pool is not its. */
	if (!r || async_offload_thread)
		return NULL;
	loop = r->carrier->loop;
	slot = loop->crash.ctx;
	if (!slot)
		return NULL;
	if (!r->ctx) {
		/* One block for every module that asked, on the first call of any. */
		r->ctx = pool_alloc(r->carrier->pool, loop->ctx_size);
		if (!r->ctx)
			return NULL;
		memset(r->ctx, 0, loop->ctx_size);
	}
	return (char *)r->ctx + slot - 1;
}

WARREN_API void *warren_req_route_conf(struct warren_request *r)
{
	uint16_t slot;

	if (!r || async_offload_thread || !r->route || !r->route->keyconf)
		return NULL;
	slot = r->carrier->loop->crash.key;
	return slot ? r->route->keyconf[slot - 1] : NULL;
}

WARREN_API enum warren_outcome warren_req_outcome(const struct warren_request *r)
{
	return (enum warren_outcome)r->outcome;
}

WARREN_API bool warren_req_aborted(const struct warren_request *r)
{
	return r->outcome == WARREN_OUTCOME_ABORTED;
}

WARREN_API bool warren_req_rejected(const struct warren_request *r)
{
	return r->rejected;
}

WARREN_API uint64_t warren_req_start_ms(const struct warren_request *r, bool wall)
{
	const struct http_loop *loop = r->carrier->loop;

	return wall ? (uint64_t)((int64_t)r->start_ms + loop->wall_delta) : r->start_ms;
}

WARREN_API uint64_t warren_req_elapsed_ms(const struct warren_request *r)
{
	uint64_t now = http_loop_now(r->carrier->loop);

	return now > r->start_ms ? now - r->start_ms : 0;
}

WARREN_API uint64_t warren_req_body_bytes(const struct warren_request *r)
{
	return r->body_total;
}

WARREN_API uint64_t warren_resp_bytes_sent(const struct warren_request *r, bool body_only)
{
	if (!body_only)
		return r->sent;
	return r->sent > r->head_len ? r->sent - r->head_len : 0;
}

WARREN_API struct warren_str warren_req_id(struct warren_request *r)
{
	struct http_loop *loop = r->carrier->loop;
	enum {
		ID_LEN = 32
	};

	if (!r->id) {
		char *id = pool_alloc(r->carrier->pool, ID_LEN + 1);

		if (!id)
			return (struct warren_str){"", 0};
		/* The worker's start, its index and its count: unique across the workers of
		 * one master, the workers that replace them, and restarts. */
		snprintf(id, ID_LEN + 1, "%016" PRIx64 "%04x%012" PRIx64, loop->id_epoch,
			 loop->id & 0xffff, (uint64_t)(++loop->id_seq & 0xffffffffffffULL));
		r->id = id;
	}
	return (struct warren_str){r->id, ID_LEN};
}

WARREN_API unsigned warren_req_worker(const struct warren_request *r)
{
	return r->carrier->loop->id;
}

WARREN_API int warren_req_route(const struct warren_request *r, const char **handler)
{
	const struct router *rt = r->carrier->loop->router;

	if (handler)
		*handler = r->route ? r->route->id : NULL;
	return r->route ? (int)(r->route - rt->routes) : -1;
}

WARREN_API unsigned warren_req_conn_requests(const struct warren_request *r)
{
	return r->conn_seq;
}
