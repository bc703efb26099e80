/*
 * sends: the send_hourly counters and connection.last_send_error
 * (sends.h), written once per gateway send; a file of its own because
 * every send writes here and nothing else does.
 */
#include <string.h>

#include "../jsonx.h"
#include "sends.h"
#include "workspaces.h"

/*
 * One autocommitted upsert per send: the hour's row is locked only for
 * the statement, so sends of one workspace at the same time queue there
 * for microseconds, never for a Meta call.
 */
enum store_rc
store_send_count(struct db *db, const struct workspace *ws, int ok,
    const char *error)
{
	char          kept[501];
	enum store_rc rc;

	if ((rc = sq_do(db, &ws->srv, NULL,
	         ok ? "INSERT INTO `%s`.send_hourly (hour, ok) VALUES "
	              "(DATE_FORMAT(UTC_TIMESTAMP(), '%%Y-%%m-%%d %%H:00:00'), "
	              "1) ON DUPLICATE KEY UPDATE ok = ok + 1"
	            : "INSERT INTO `%s`.send_hourly (hour, failed) VALUES "
	              "(DATE_FORMAT(UTC_TIMESTAMP(), '%%Y-%%m-%%d %%H:00:00'), "
	              "1) ON DUPLICATE KEY UPDATE failed = failed + 1",
	         ws->db_name)) != STORE_OK ||
	    ok)
		return rc;
	jx_copy(kept, sizeof(kept), error != NULL ? error : "");
	return sq_do(db, &ws->srv, SQ_ARGS(SQ_S(kept)),
	    "UPDATE `%s`.connection SET last_send_error = ?, "
	    "last_send_error_at = UTC_TIMESTAMP() WHERE id = 1",
	    ws->db_name);
}
