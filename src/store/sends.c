/*
 * sends: the send_hourly counters and connection.last_send_error
 * (sends.h), tallied per worker and written in batches; a file of its
 * own because every send counts here and nothing else does.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../clock.h"
#include "../jsonx.h"
#include "../log.h"
#include "sends.h"

static long long
sends_hour(void)
{
	return (long long)time(NULL) / 3600 * 3600;
}

/*
 * One autocommitted upsert for an hour's counts: the hour's row is
 * locked only for the statement, so writers of one workspace queue
 * there for microseconds, never for a Meta call.
 */
static enum store_rc
sends_write(struct db *db, const struct workspace *ws, long long hour,
    unsigned long ok, unsigned long failed)
{
	struct tm tm;
	time_t    t = (time_t)hour;
	char      at[24];

	gmtime_r(&t, &tm);
	strftime(at, sizeof(at), "%Y-%m-%d %H:00:00", &tm);
	return sq_do(db, &ws->srv,
	    SQ_ARGS(SQ_S(at), SQ_I((long long)ok), SQ_I((long long)failed)),
	    "INSERT INTO `%s`.send_hourly (hour, ok, failed) VALUES (?, ?, "
	    "?) ON DUPLICATE KEY UPDATE ok = ok + VALUES(ok), failed = "
	    "failed + VALUES(failed)",
	    ws->db_name);
}

/* Writes p's tally and frees its place; a count not written is lost. */
static enum store_rc
sends_drain(struct db *db, struct send_pending *p, unsigned long failed)
{
	enum store_rc rc = STORE_OK;

	if (p->ok > 0 || failed > 0)
		rc = sends_write(db, &p->ws, p->hour, p->ok, failed);
	if (rc != STORE_OK)
		log_warn("workspace %llu: %lu sends not counted in send health",
		    (unsigned long long)p->ws.id, p->ok + failed);
	memset(p, 0, sizeof(*p));
	return rc;
}

/* ws's place in the tally for this hour, taking (or making) a free one. */
static struct send_pending *
sends_place(struct db *db, struct send_tally *t, const struct workspace *ws,
    long long hour)
{
	struct send_pending *p, *free_p = NULL, *oldest = NULL;
	size_t               i;

	for (i = 0; i < SEND_TALLY_WS; i++) {
		p = &t->p[i];
		if (p->ws.id == ws->id) {
			if (p->hour != hour)
				(void)sends_drain(db, p, 0);
			break;
		}
		if (p->ws.id == 0 && free_p == NULL)
			free_p = p;
		if (p->ws.id != 0 &&
		    (oldest == NULL || p->since_ms < oldest->since_ms))
			oldest = p;
	}
	if (i == SEND_TALLY_WS) {
		if ((p = free_p) == NULL) {
			(void)sends_drain(db, oldest, 0);
			p = oldest;
		}
	}
	if (p->ws.id == 0) {
		p->ws = *ws;
		p->hour = hour;
		p->ok = 0;
		p->since_ms = clk_ms();
	}
	return p;
}

enum store_rc
store_send_count(struct db *db, struct send_tally *t,
    const struct workspace *ws, int ok, const char *error)
{
	struct send_pending *p = sends_place(db, t, ws, sends_hour());
	char                 kept[501];
	enum store_rc        rc;

	if (ok) {
		p->ok++;
		return STORE_OK;
	}
	if ((rc = sends_drain(db, p, 1)) != STORE_OK)
		return rc;
	jx_copy(kept, sizeof(kept), error != NULL ? error : "");
	return sq_do(db, &ws->srv, SQ_ARGS(SQ_S(kept)),
	    "UPDATE `%s`.connection SET last_send_error = ?, "
	    "last_send_error_at = UTC_TIMESTAMP() WHERE id = 1",
	    ws->db_name);
}

void
store_send_flush(struct db *db, struct send_tally *t, int all)
{
	long long now = clk_ms();
	size_t    i;

	if (t == NULL)
		return;
	for (i = 0; i < SEND_TALLY_WS; i++)
		if (t->p[i].ws.id != 0 &&
		    (all || now - t->p[i].since_ms >= SEND_FLUSH_MS ||
		        t->p[i].hour != sends_hour()))
			(void)sends_drain(db, &t->p[i], 0);
}

long
store_send_due_ms(const struct send_tally *t)
{
	long long now = clk_ms(), left, best = -1;
	size_t    i;

	if (t == NULL)
		return -1;
	for (i = 0; i < SEND_TALLY_WS; i++) {
		if (t->p[i].ws.id == 0)
			continue;
		left = t->p[i].since_ms + SEND_FLUSH_MS - now;
		if (left < 0)
			left = 0;
		if (best == -1 || left < best)
			best = left;
	}
	return (long)best;
}
