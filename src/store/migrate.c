/*
 * Migrations are append-only lists of statements. Each statement is
 * written to be safe to run again (IF NOT EXISTS), because DDL commits
 * implicitly in MySQL: a migration interrupted half-way is finished by
 * the next run, and a version is recorded only after all of its
 * statements succeeded. A named lock keeps two admins from migrating the
 * same server at once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../buf.h"
#include "../db.h"
#include "../log.h"
#include "migrate.h"
#include "sql.h"
#include "workspaces.h"

/* "%1$s" stands for the database name in every statement. */
static const char *const control_v1[] = {
	"CREATE TABLE IF NOT EXISTS `%1$s`.workspaces ("
	" id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
	" slug VARCHAR(63) NOT NULL UNIQUE,"
	" name VARCHAR(200) NOT NULL,"
	" db_name VARCHAR(64) NULL UNIQUE,"
	" db_host VARCHAR(255) NOT NULL DEFAULT '',"
	" db_port INT UNSIGNED NOT NULL DEFAULT 0,"
	" db_socket VARCHAR(255) NOT NULL DEFAULT '',"
	" created_at DATETIME NOT NULL DEFAULT UTC_TIMESTAMP()"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
	"CREATE TABLE IF NOT EXISTS `%1$s`.users ("
	" id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
	" email VARCHAR(254) NOT NULL UNIQUE,"
	" password_hash VARCHAR(255) NOT NULL,"
	" created_at DATETIME NOT NULL DEFAULT UTC_TIMESTAMP()"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
	"CREATE TABLE IF NOT EXISTS `%1$s`.memberships ("
	" user_id BIGINT UNSIGNED NOT NULL,"
	" workspace_id BIGINT UNSIGNED NOT NULL,"
	" PRIMARY KEY (user_id, workspace_id),"
	" FOREIGN KEY (user_id) REFERENCES `%1$s`.users(id) ON DELETE CASCADE,"
	" FOREIGN KEY (workspace_id) REFERENCES `%1$s`.workspaces(id)"
	"  ON DELETE CASCADE"
	") ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS `%1$s`.sessions ("
	" id_hash BINARY(32) NOT NULL PRIMARY KEY,"
	" user_id BIGINT UNSIGNED NOT NULL,"
	" csrf_token CHAR(64) NOT NULL,"
	" created_at DATETIME NOT NULL,"
	" last_seen_at DATETIME NOT NULL,"
	" expires_at DATETIME NOT NULL,"
	" INDEX (expires_at),"
	" FOREIGN KEY (user_id) REFERENCES `%1$s`.users(id) ON DELETE CASCADE"
	") ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS `%1$s`.login_failures ("
	" id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
	" email VARCHAR(254) NOT NULL,"
	" addr VARCHAR(64) NOT NULL,"
	" at DATETIME NOT NULL,"
	" INDEX (email, at), INDEX (addr, at), INDEX (at)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
	"CREATE TABLE IF NOT EXISTS `%1$s`.oauth_states ("
	" state_hash BINARY(32) NOT NULL PRIMARY KEY,"
	" workspace_id BIGINT UNSIGNED NOT NULL,"
	" session_hash BINARY(32) NOT NULL,"
	" expires_at DATETIME NOT NULL,"
	" INDEX (expires_at)"
	") ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS `%1$s`.webhook_routes ("
	" kind ENUM('phone','waba') NOT NULL,"
	" external_id VARCHAR(32) NOT NULL,"
	" workspace_id BIGINT UNSIGNED NOT NULL,"
	" PRIMARY KEY (kind, external_id),"
	" INDEX (workspace_id)"
	") ENGINE=InnoDB",
	NULL
};

static const char *const workspace_v1[] = {
	/* One row: the WABA connection. Tokens only as ciphertext. */
	"CREATE TABLE IF NOT EXISTS `%1$s`.connection ("
	" id TINYINT UNSIGNED NOT NULL PRIMARY KEY DEFAULT 1,"
	" status ENUM('not_connected','pending_phone_selection','connected',"
	"  'needs_reconnect') NOT NULL DEFAULT 'not_connected',"
	" reason VARCHAR(500) NULL,"
	" waba_id VARCHAR(32) NULL,"
	" waba_ids VARCHAR(1000) NULL,"
	" scopes VARCHAR(1000) NULL,"
	" token_key_version INT UNSIGNED NULL,"
	" token_nonce BINARY(24) NULL,"
	" token_ct VARBINARY(8192) NULL,"
	" token_expires_at DATETIME NULL,"
	" phone_number_id VARCHAR(32) NULL,"
	" display_phone_number VARCHAR(64) NULL,"
	" verified_name VARCHAR(200) NULL,"
	" quality_rating VARCHAR(32) NULL,"
	" connected_at DATETIME NULL,"
	" last_verified_at DATETIME NULL,"
	" updated_at DATETIME NOT NULL DEFAULT UTC_TIMESTAMP()"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	"INSERT IGNORE INTO `%1$s`.connection (id) VALUES (1)",
	"CREATE TABLE IF NOT EXISTS `%1$s`.phone_numbers ("
	" id VARCHAR(32) NOT NULL PRIMARY KEY,"
	" waba_id VARCHAR(32) NOT NULL,"
	" display_phone_number VARCHAR(64) NOT NULL,"
	" verified_name VARCHAR(200) NULL,"
	" quality_rating VARCHAR(32) NULL,"
	" status VARCHAR(64) NULL,"
	" fetched_at DATETIME NOT NULL"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	"CREATE TABLE IF NOT EXISTS `%1$s`.catalog ("
	" id TINYINT UNSIGNED NOT NULL PRIMARY KEY DEFAULT 1,"
	" catalog_id VARCHAR(32) NOT NULL,"
	" catalog_name VARCHAR(200) NULL,"
	" status ENUM('connected','needs_reconnect') NOT NULL,"
	" reason VARCHAR(500) NULL,"
	" token_key_version INT UNSIGNED NOT NULL,"
	" token_nonce BINARY(24) NOT NULL,"
	" token_ct VARBINARY(8192) NOT NULL,"
	" connected_at DATETIME NOT NULL"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	"CREATE TABLE IF NOT EXISTS `%1$s`.webhook_events ("
	" id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
	" dedup_key VARCHAR(191) NOT NULL UNIQUE,"
	" kind VARCHAR(32) NOT NULL,"
	" phone_number_id VARCHAR(32) NULL,"
	" message_id VARCHAR(191) NULL,"
	" status VARCHAR(32) NULL,"
	" wa_from VARCHAR(32) NULL,"
	" body TEXT NULL,"
	" event_at DATETIME NULL,"
	" received_at DATETIME NOT NULL,"
	" INDEX (received_at)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	"CREATE TABLE IF NOT EXISTS `%1$s`.audit_log ("
	" id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
	" at DATETIME NOT NULL,"
	" actor VARCHAR(254) NOT NULL,"
	" action VARCHAR(64) NOT NULL,"
	" detail VARCHAR(500) NULL"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	NULL
};

/*
 * v2: webhook_events compared text case-insensitively (the database's
 * default collation), so two wamids differing only in case (base64:
 * different ids) deduplicated into one row. Keys become bytes; status
 * holds account_update event names (up to 42 characters seen); senders
 * may be business-scoped user ids (CC.[ENT.]up to 128 alphanumerics)
 * when the user hides the phone number behind a username.
 */
static const char *const workspace_v2[] = {
	"ALTER TABLE `%1$s`.webhook_events"
	" MODIFY dedup_key VARBINARY(191) NOT NULL,"
	" MODIFY message_id VARCHAR(191) CHARACTER SET utf8mb4"
	"  COLLATE utf8mb4_bin NULL,"
	" MODIFY status VARCHAR(64) NULL,"
	" MODIFY wa_from VARCHAR(160) NULL",
	NULL
};

/*
 * v3: the settings page and status counted webhook_events over 24 hours
 * on every view, a cost growing with traffic. webhook_hourly holds, per
 * UTC hour of received_at, how many events were stored and when the
 * last one came; store_wh_save() adds to it in the delivery's
 * transaction. The backfill recounts from the events themselves
 * (events = the count, not + it), so running it again after an
 * interrupted upgrade, or while deliveries go on (INSERT ... SELECT
 * locks what it reads), leaves exact numbers. The audit_log index
 * serves "the last entry of this action" (the page's last test
 * message) without reading the whole log.
 */
static const char *const workspace_v3[] = {
	"CREATE TABLE IF NOT EXISTS `%1$s`.webhook_hourly ("
	" hour DATETIME NOT NULL PRIMARY KEY,"
	" events INT UNSIGNED NOT NULL,"
	" last_at DATETIME NOT NULL"
	") ENGINE=InnoDB",
	"INSERT INTO `%1$s`.webhook_hourly (hour, events, last_at)"
	" SELECT DATE_FORMAT(received_at, '%Y-%m-%d %H:00:00'), COUNT(*),"
	" MAX(received_at) FROM `%1$s`.webhook_events"
	" GROUP BY DATE_FORMAT(received_at, '%Y-%m-%d %H:00:00')"
	" ON DUPLICATE KEY UPDATE events = VALUES(events),"
	" last_at = VALUES(last_at)",
	"ALTER TABLE `%1$s`.audit_log"
	" ADD INDEX IF NOT EXISTS action_id (action, id)",
	NULL
};

/*
 * v4 (issue 8): when the current token was stored, so that a late
 * redelivery of an older removal cannot undo a reconnect made since;
 * and the restriction or ban Meta reported, kept apart from reason
 * (which Verify and a reconnect rewrite) until Meta lifts it: its words,
 * event, WABA, the event's time (to order redeliveries) and when Meta
 * said it ends (NULL: not said). Existing rows: connected_at is no later
 * than the current token was stored, so it is a safe lower bound; a
 * needs_reconnect whose reason is a restriction or ban becomes one.
 * Numbered 4, not 3: version 3 belongs to another change of the same
 * issue; every statement is safe to run again whatever ran before.
 */
static const char *const workspace_v4[] = {
	"ALTER TABLE `%1$s`.connection"
	" ADD COLUMN IF NOT EXISTS token_stored_at DATETIME NULL,"
	" ADD COLUMN IF NOT EXISTS restriction VARCHAR(500) NULL,"
	" ADD COLUMN IF NOT EXISTS restriction_event VARCHAR(64) NULL,"
	" ADD COLUMN IF NOT EXISTS restriction_waba VARCHAR(32) NULL,"
	" ADD COLUMN IF NOT EXISTS restriction_at DATETIME NULL,"
	" ADD COLUMN IF NOT EXISTS restriction_until DATETIME NULL",
	"UPDATE `%1$s`.connection SET token_stored_at = connected_at"
	" WHERE token_ct IS NOT NULL AND token_stored_at IS NULL",
	"UPDATE `%1$s`.connection SET restriction = reason,"
	" restriction_event = IF(reason LIKE 'Meta disabled%',"
	"  'DISABLED_UPDATE', 'ACCOUNT_RESTRICTION'),"
	" restriction_waba = waba_id"
	" WHERE status = 'needs_reconnect' AND restriction IS NULL AND"
	" (reason LIKE 'Meta restricted the WhatsApp Business Account%' OR"
	"  reason LIKE 'Meta disabled the WhatsApp Business Account%')",
	NULL
};

/*
 * v5 (issue 10): a workspace uses several numbers. phone_numbers (made
 * in v1, never written until now) holds each number in use, with where
 * it is on its way to sending (state and why), Meta's details, whether
 * it is also on the WhatsApp Business app (coexistence) and the one-time
 * syncs that ran, and, only while its registration waits for Meta to
 * approve its display name, its PIN as a vault box (retried then without
 * asking again); one of the active numbers is the default sender, which
 * the connection row mirrors. default_one makes "at most one default" a
 * unique key, not a hope. Today's number moves in as the default.
 */
static const char *const workspace_v5[] = {
	"ALTER TABLE `%1$s`.phone_numbers"
	" ADD COLUMN IF NOT EXISTS code_verification_status VARCHAR(32) NULL,"
	" ADD COLUMN IF NOT EXISTS messaging_limit VARCHAR(64) NULL,"
	" ADD COLUMN IF NOT EXISTS state ENUM('active','unverified',"
	"  'pending_display_name','register_failed') NOT NULL"
	"  DEFAULT 'active',"
	" ADD COLUMN IF NOT EXISTS state_detail VARCHAR(500) NULL,"
	" ADD COLUMN IF NOT EXISTS retry_after DATETIME NULL,"
	" ADD COLUMN IF NOT EXISTS is_default TINYINT(1) NOT NULL DEFAULT 0,"
	" ADD COLUMN IF NOT EXISTS default_one TINYINT(1)"
	"  AS (IF(is_default = 1, 1, NULL)) PERSISTENT,"
	" ADD COLUMN IF NOT EXISTS coexistence TINYINT(1) NOT NULL DEFAULT 0,"
	" ADD COLUMN IF NOT EXISTS synced_state_at DATETIME NULL,"
	" ADD COLUMN IF NOT EXISTS synced_history_at DATETIME NULL,"
	" ADD COLUMN IF NOT EXISTS added_at DATETIME NULL,"
	" ADD COLUMN IF NOT EXISTS pin_key_version INT UNSIGNED NULL,"
	" ADD COLUMN IF NOT EXISTS pin_nonce BINARY(24) NULL,"
	" ADD COLUMN IF NOT EXISTS pin_ct VARBINARY(256) NULL,"
	" ADD UNIQUE INDEX IF NOT EXISTS default_one (default_one)",
	"INSERT INTO `%1$s`.phone_numbers (id, waba_id, display_phone_number,"
	" verified_name, quality_rating, fetched_at, state, is_default,"
	" added_at)"
	" SELECT phone_number_id, COALESCE(waba_id, ''),"
	"  COALESCE(display_phone_number, ''), verified_name, quality_rating,"
	"  COALESCE(last_verified_at, connected_at, UTC_TIMESTAMP()),"
	"  'active', 1, COALESCE(connected_at, UTC_TIMESTAMP())"
	" FROM `%1$s`.connection WHERE id = 1 AND phone_number_id IS NOT NULL"
	" AND NOT EXISTS (SELECT 1 FROM `%1$s`.phone_numbers"
	"  WHERE is_default = 1)"
	" ON DUPLICATE KEY UPDATE is_default = 1, state = 'active'",
	NULL
};

/*
 * v6 (issue 11, the Graph gateway):
 * - webhook_events keeps what Meta sent, whole: the message, status or
 *   error object as delivered (object), the change's metadata and the
 *   sender's contacts[] entry (contact), and the WABA it came for, so
 *   the events feed (GET /events) hands an inbox every image, reply and
 *   location, not just a text body. JSON is MariaDB's LONGTEXT with a
 *   JSON_VALID check; the writer bounds it by the webhook body limit.
 *   Rows stored before v6 have no object: the feed rebuilds a minimal
 *   one from the typed columns.
 * - api_idempotency: the first outcome of a POST /messages per
 *   Idempotency-Key (24 h), running while its call to Meta is under
 *   way, so a retry after a timeout is answered from here and never
 *   reaches Meta twice; request_hash tells a repeat from a different
 *   body sent under the same key.
 * - send_hourly and connection.last_send_*: messages sent and failed
 *   through the gateway per UTC hour, and the last failure in Meta's
 *   words, for send health on the page and in status --json.
 */
static const char *const workspace_v6[] = {
	"ALTER TABLE `%1$s`.webhook_events"
	" ADD COLUMN IF NOT EXISTS waba_id VARCHAR(32) NULL,"
	" ADD COLUMN IF NOT EXISTS object JSON NULL,"
	" ADD COLUMN IF NOT EXISTS metadata JSON NULL,"
	" ADD COLUMN IF NOT EXISTS contact JSON NULL",
	"CREATE TABLE IF NOT EXISTS `%1$s`.api_idempotency ("
	" idem_key VARBINARY(64) NOT NULL PRIMARY KEY,"
	" request_hash BINARY(32) NOT NULL,"
	" state ENUM('running','done') NOT NULL,"
	" http_status SMALLINT UNSIGNED NULL,"
	" body TEXT NULL,"
	" created_at DATETIME NOT NULL,"
	" finished_at DATETIME NULL,"
	" INDEX (created_at)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	"CREATE TABLE IF NOT EXISTS `%1$s`.send_hourly ("
	" hour DATETIME NOT NULL PRIMARY KEY,"
	" ok INT UNSIGNED NOT NULL DEFAULT 0,"
	" failed INT UNSIGNED NOT NULL DEFAULT 0"
	") ENGINE=InnoDB",
	"ALTER TABLE `%1$s`.connection"
	" ADD COLUMN IF NOT EXISTS last_send_error VARCHAR(500) NULL,"
	" ADD COLUMN IF NOT EXISTS last_send_error_at DATETIME NULL",
	NULL
};

/*
 * Control v2: sign-in throttling by device cookie (OWASP "Slow Down
 * Online Guessing Attacks with Device Cookies"). A failure from a
 * browser with a valid device cookie names that device and counts only
 * against it; the others (device NULL) count per email and per address,
 * which for IPv6 is now the /64 ("2001:db8::/64", still within 64).
 */
static const char *const control_v2[] = {
	"ALTER TABLE `%1$s`.login_failures"
	" ADD COLUMN IF NOT EXISTS device BINARY(16) NULL AFTER addr,"
	" ADD INDEX IF NOT EXISTS device_at (device, at)",
	NULL
};

/*
 * Control v3: which workspaces a token grants each WABA, kept beside the
 * routes, so that when the workspace that chose a WABA lets it go the
 * route passes at once to a workspace still granted it (routes always
 * say what the connection rows say). Existing WABA routes are grants of
 * their workspace; the others are written at the workspace's next
 * connect or choice.
 */
static const char *const control_v3[] = {
	"CREATE TABLE IF NOT EXISTS `%1$s`.webhook_grants ("
	" waba_id VARCHAR(32) NOT NULL,"
	" workspace_id BIGINT UNSIGNED NOT NULL,"
	" PRIMARY KEY (waba_id, workspace_id),"
	" INDEX (workspace_id)"
	") ENGINE=InnoDB",
	"INSERT IGNORE INTO `%1$s`.webhook_grants (waba_id, workspace_id)"
	" SELECT external_id, workspace_id FROM `%1$s`.webhook_routes"
	" WHERE kind = 'waba'",
	NULL
};

/*
 * Control v4: the internal API's keys (doc/contract.md, Internal API).
 * Only the SHA-256 of a key is kept (apikey.h says why that is enough),
 * unique so the gate finds a key by it; shown_prefix is what list
 * prints. A key with all_workspaces 0 touches only the workspaces of
 * api_key_workspaces: when the last of them is deleted it touches none,
 * never all. Revoked keys stay, with revoked_at, so list shows them.
 */
static const char *const control_v4[] = {
	"CREATE TABLE IF NOT EXISTS `%1$s`.api_keys ("
	" id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
	" name VARCHAR(64) NOT NULL UNIQUE,"
	" key_hash BINARY(32) NOT NULL UNIQUE,"
	" shown_prefix CHAR(12) NOT NULL,"
	" scopes SET('connection:read','messages:send','templates:read',"
	"  'templates:write','media:write','catalog:write','events:read')"
	"  NOT NULL,"
	" all_workspaces TINYINT(1) NOT NULL,"
	" created_at DATETIME NOT NULL DEFAULT UTC_TIMESTAMP(),"
	" last_used_at DATETIME NULL,"
	" revoked_at DATETIME NULL"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
	"CREATE TABLE IF NOT EXISTS `%1$s`.api_key_workspaces ("
	" key_id BIGINT UNSIGNED NOT NULL,"
	" workspace_id BIGINT UNSIGNED NOT NULL,"
	" PRIMARY KEY (key_id, workspace_id),"
	" INDEX (workspace_id),"
	" FOREIGN KEY (key_id) REFERENCES `%1$s`.api_keys(id) ON DELETE CASCADE,"
	" FOREIGN KEY (workspace_id) REFERENCES `%1$s`.workspaces(id)"
	"  ON DELETE CASCADE"
	") ENGINE=InnoDB",
	NULL
};

/*
 * Control v5 (issue 12, the health monitor): one lease per workspace, so
 * that however many monitors run (one per pool, on several hosts, and
 * `monitor --once` from a timer) each workspace is checked at most once
 * per interval. A monitor claims a workspace with one UPDATE whose WHERE
 * says it is due and nobody holds it (store/health.c); failures counts
 * the checks in a row that Meta failed, for the backoff.
 */
static const char *const control_v5[] = {
	"CREATE TABLE IF NOT EXISTS `%1$s`.monitor_leases ("
	" workspace_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
	" next_check_at DATETIME NOT NULL,"
	" lease_owner VARCHAR(128) NULL,"
	" lease_until DATETIME NULL,"
	" failures INT UNSIGNED NOT NULL DEFAULT 0,"
	" INDEX (next_check_at),"
	" FOREIGN KEY (workspace_id) REFERENCES `%1$s`.workspaces(id)"
	"  ON DELETE CASCADE"
	") ENGINE=InnoDB",
	NULL
};

/*
 * v6 (issue 13, push of the events feed): per workspace, the last event
 * the push receiver acknowledged (the cursor: an event is pushed again
 * after a crash between its 2xx and this row's update, never lost), the
 * pusher holding the workspace (one at a time keeps its events in order,
 * whatever the number of pools), and the failures in a row with when to
 * try again (the backoff).
 */
static const char *const control_v6[] = {
	"CREATE TABLE IF NOT EXISTS `%1$s`.push_state ("
	" workspace_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
	" last_event_id BIGINT UNSIGNED NOT NULL DEFAULT 0,"
	" lease_owner VARCHAR(128) NULL,"
	" lease_until DATETIME(3) NULL,"
	" failures INT UNSIGNED NOT NULL DEFAULT 0,"
	" retry_at DATETIME(3) NULL,"
	" last_error VARCHAR(255) NULL,"
	" last_error_at DATETIME NULL,"
	" pushed_at DATETIME NULL,"
	" FOREIGN KEY (workspace_id) REFERENCES `%1$s`.workspaces(id)"
	"  ON DELETE CASCADE"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	NULL
};

/*
 * v7 (issue 12, the health monitor): what the last check found, one row
 * (id 1), written by the monitor only. The scalar columns are the
 * default number's; warnings is the JSON array status --json shows
 * (doc/contract.md, JSON shapes); last_error says why the last check
 * could not finish (Meta unreachable), NULL after one that did.
 */
static const char *const workspace_v7[] = {
	"CREATE TABLE IF NOT EXISTS `%1$s`.health ("
	" id TINYINT UNSIGNED NOT NULL PRIMARY KEY,"
	" checked_at DATETIME NULL,"
	" can_send_message VARCHAR(16) NULL,"
	" messaging_limit VARCHAR(32) NULL,"
	" quality_rating VARCHAR(32) NULL,"
	" name_status VARCHAR(32) NULL,"
	" throughput VARCHAR(32) NULL,"
	" token_expires_at DATETIME NULL,"
	" webhook_ok TINYINT(1) NULL,"
	" subscription_ok TINYINT(1) NULL,"
	" warnings JSON NULL,"
	" last_error VARCHAR(500) NULL,"
	" last_error_at DATETIME NULL"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	NULL
};

/*
 * v8 (issue 12, the trouble webhooks):
 * - templates: each message template as Meta's webhooks last described
 *   it (message_template_status_update, message_template_quality_update,
 *   template_category_update), for the settings page's Templates card;
 *   reason is Meta's for a rejection or pause; status_at the review's
 *   time (entry.time), so an older redelivery never overwrites a newer
 *   status.
 * - health.hook_warnings: the warnings the webhooks raised (a flagged
 *   number, a rejected display name, an alert, a changed PIN...), each
 *   {"code","message","phone_number_id"?,"source":"webhook","key"},
 *   kept apart from the monitor's warnings, which each check rewrites,
 *   and shown with them.
 */
static const char *const workspace_v8[] = {
	"CREATE TABLE IF NOT EXISTS `%1$s`.templates ("
	" id VARCHAR(32) NOT NULL PRIMARY KEY,"
	" name VARCHAR(512) NULL,"
	" language VARCHAR(32) NULL,"
	" status VARCHAR(32) NULL,"
	" category VARCHAR(32) NULL,"
	" quality VARCHAR(32) NULL,"
	" reason VARCHAR(1024) NULL,"
	" status_at DATETIME NULL,"
	" updated_at DATETIME NOT NULL,"
	" INDEX (status)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	"ALTER TABLE `%1$s`.health"
	" ADD COLUMN IF NOT EXISTS hook_warnings JSON NULL",
	NULL
};

/*
 * v9 (issue 13, the outbox): messages queued by POST /outbox for the
 * sender. client_id is unique (a repeat within OUTBOX_CLIENT_TTL_S
 * returns the first id; an older row is replaced). phone_number_id is
 * the explicit "from", NULL for the default number at send time; body
 * is the message object as the client sent it, less client_id and from.
 * (state, not_before, id) is the sender's claim order; claimed_at the
 * age of a 'sending' row, for claim_timeout_s after a crash.
 */
static const char *const workspace_v9[] = {
	"CREATE TABLE IF NOT EXISTS `%1$s`.outbox ("
	" id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
	" client_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
	" phone_number_id VARCHAR(32) NULL,"
	" to_addr VARCHAR(140) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
	" body MEDIUMTEXT NOT NULL,"
	" state ENUM('queued','sending','sent','failed','unknown','paused')"
	"  NOT NULL DEFAULT 'queued',"
	" attempts INT UNSIGNED NOT NULL DEFAULT 0,"
	" not_before DATETIME(3) NOT NULL,"
	" message_id VARCHAR(128) NULL,"
	" error VARCHAR(1000) NULL,"
	" created_at DATETIME NOT NULL,"
	" claimed_at DATETIME(3) NULL,"
	" updated_at DATETIME(3) NOT NULL,"
	" UNIQUE KEY outbox_client (client_id),"
	" KEY outbox_claim (state, not_before, id),"
	" KEY outbox_updated (state, updated_at)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	/* Each number's next free send slot (microseconds since the epoch,
	   the database's clock): every sender paces a number from here. */
	"CREATE TABLE IF NOT EXISTS `%1$s`.outbox_rate ("
	" phone_number_id VARCHAR(32) NOT NULL PRIMARY KEY,"
	" next_us BIGINT NOT NULL"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	/* Each number and recipient's earliest next send. */
	"CREATE TABLE IF NOT EXISTS `%1$s`.outbox_pair ("
	" phone_number_id VARCHAR(32) NOT NULL,"
	" to_addr VARCHAR(140) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
	" next_us BIGINT NOT NULL,"
	" PRIMARY KEY (phone_number_id, to_addr),"
	" KEY outbox_pair_next (next_us)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	NULL
};

/*
 * v10 (issue 15, a double send under a Galera node's kill): each claim
 * writes its own random token, and an outcome settles a row only while
 * that claim holds it. Without it a settle whose commit was applied
 * but not acknowledged (the node died) and was then repeated could put
 * back in the queue a message another sender had claimed since, which
 * was then sent again.
 */
static const char *const workspace_v10[] = {
	"ALTER TABLE `%1$s`.outbox"
	" ADD COLUMN IF NOT EXISTS claim BIGINT UNSIGNED NULL AFTER claimed_at",
	NULL
};

/*
 * v11 (issue 13): DELETE /outbox/{id} keeps the row as a tombstone,
 * `cancelled`, rather than deleting it: its client_id stays taken for
 * OUTBOX_CLIENT_TTL_S like any other, so a client that repeats a call
 * after cancelling one of its messages does not queue it again. A value
 * added at the end of an ENUM changes only the table's definition.
 */
static const char *const workspace_v11[] = {
	"ALTER TABLE `%1$s`.outbox MODIFY state ENUM('queued','sending',"
	"'sent','failed','unknown','paused','cancelled') NOT NULL DEFAULT "
	"'queued'",
	NULL
};

static const char *const *const control_migrations[] = { control_v1, control_v2,
	control_v3, control_v4, control_v5, control_v6 };
static const char *const *const workspace_migrations[] = { workspace_v1,
	workspace_v2, workspace_v3, workspace_v4, workspace_v5, workspace_v6,
	workspace_v7, workspace_v8, workspace_v9, workspace_v10,
	workspace_v11 };

#define NCONTROL \
	(int)(sizeof(control_migrations) / sizeof(control_migrations[0]))
#define NWORKSPACE \
	(int)(sizeof(workspace_migrations) / sizeof(workspace_migrations[0]))

int
store_mig_control_latest(void)
{
	return NCONTROL;
}

int
store_mig_workspace_latest(void)
{
	return NWORKSPACE;
}

static void report(store_mig_report fn, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(store_mig_report fn, void *arg, const char *fmt, ...)
{
	char    line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (fn)
		fn(line, arg);
}

static enum store_rc
mig_exec(struct db *db, const struct db_server *srv, const char *fmt,
    const char *dbname)
{
	struct buf    sql = BUF_INIT;
	const char   *p, *hit;
	enum store_rc rc = STORE_ERR;

	/*
	 * The database name is ours ([a-z0-9_], checked by config and by
	 * workspaces.c), the only thing spliced; identifiers cannot be bound.
	 */
	for (p = fmt; (hit = strstr(p, "%1$s")) != NULL; p = hit + 4)
		if (buf_append(&sql, p, (size_t)(hit - p)) == -1 ||
		    buf_puts(&sql, dbname) == -1)
			goto out;
	if (buf_puts(&sql, p) == 0)
		rc = sq_exec(db, srv, sql.data);
out:
	buf_free(&sql);
	return rc;
}

static enum store_rc
mig_version(struct db *db, const struct db_server *srv, const char *dbname,
    int *version)
{
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_one(&q, db, srv, NULL,
	         "SELECT COALESCE(MAX(version), 0) "
	         "FROM `%s`.schema_version",
	         dbname)) != STORE_OK)
		/* MAX() always has a row: none is a failure. */
		return rc == STORE_NOTFOUND ? STORE_ERR : rc;
	*version = (int)sq_colint(&q, 0);
	sq_close(&q);
	return STORE_OK;
}

static enum store_rc
mig_lock(struct db *db, const struct db_server *srv, int take)
{
	struct sq     q;
	enum store_rc rc;

	if (!take)
		return sq_do(db, srv, NULL,
		    "SELECT RELEASE_LOCK('waba_connect_migrate')");
	rc = sq_one(&q, db, srv, NULL,
	    "SELECT GET_LOCK('waba_connect_migrate', 60)");
	if (rc == STORE_OK && sq_colint(&q, 0) != 1)
		rc = STORE_NOTFOUND;
	sq_close(&q);
	if (rc == STORE_NOTFOUND) {
		log_err("migrate: another migration holds the lock");
		rc = STORE_ERR;
	}
	return rc;
}

static enum store_rc
mig_apply(struct db *db, const struct db_server *srv, const char *dbname,
    const char *const *const *list, int n, const char *what,
    store_mig_report fn, void *arg)
{
	const char *const *stmt;
	enum store_rc      rc;
	int                have = 0, v;

	if ((rc = mig_lock(db, srv, 1)) != STORE_OK)
		return rc;
	if ((rc = sq_do(db, srv, NULL,
	         "CREATE DATABASE IF NOT EXISTS `%s` "
	         "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
	         dbname)) != STORE_OK ||
	    (rc = sq_do(db, srv, NULL,
	         "CREATE TABLE IF NOT EXISTS "
	         "`%s`.schema_version (version INT NOT NULL PRIMARY KEY, "
	         "applied_at DATETIME NOT NULL) ENGINE=InnoDB",
	         dbname)) != STORE_OK ||
	    (rc = mig_version(db, srv, dbname, &have)) != STORE_OK)
		goto out;
	if (have > n) {
		report(fn, arg,
		    "%s %s: at version %d, newer than this "
		    "program (%d): refusing",
		    what, dbname, have, n);
		rc = STORE_ERR;
		goto out;
	}
	if (have == n)
		report(fn, arg, "%s %s: up to date (version %d)", what, dbname,
		    n);
	for (v = have + 1; v <= n; v++) {
		for (stmt = list[v - 1]; *stmt; stmt++)
			if ((rc = mig_exec(db, srv, *stmt, dbname)) != STORE_OK)
				goto out;
		if ((rc = sq_do(db, srv, SQ_ARGS(SQ_I(v)),
		         "INSERT INTO "
		         "`%s`.schema_version (version, applied_at) VALUES (?, "
		         "UTC_TIMESTAMP())",
		         dbname)) != STORE_OK)
			goto out;
		report(fn, arg, "%s %s: applied version %d", what, dbname, v);
	}
out:
	mig_lock(db, srv, 0);
	return rc;
}

enum store_rc
store_mig_control(struct db *db, store_mig_report fn, void *arg)
{
	return mig_apply(db, NULL, sq_ctl(db), control_migrations, NCONTROL,
	    "control database", fn, arg);
}

/*
 * information_schema is asked first because preparing against a missing
 * table would log an error.
 */
enum store_rc
store_mig_control_version(struct db *db, int *version)
{
	struct sq     q;
	const char   *dbname = sq_ctl(db);
	enum store_rc rc;
	int           found;

	*version = 0;
	if ((rc = sq_one(&q, db, NULL, SQ_ARGS(SQ_S(dbname)),
	         "SELECT "
	         "COUNT(*) FROM information_schema.tables WHERE table_schema = ? "
	         "AND table_name = 'schema_version'")) != STORE_OK)
		/* COUNT() always has a row too. */
		return rc == STORE_NOTFOUND ? STORE_ERR : rc;
	found = sq_colint(&q, 0) > 0;
	sq_close(&q);
	if (!found)
		return STORE_OK;
	return mig_version(db, NULL, dbname, version);
}

enum store_rc
store_mig_workspace(struct db *db, const struct workspace *ws,
    store_mig_report fn, void *arg)
{
	char what[128];

	snprintf(what, sizeof(what), "workspace %s: database", ws->slug);
	return mig_apply(db, &ws->srv, ws->db_name, workspace_migrations,
	    NWORKSPACE, what, fn, arg);
}

/*
 * As store_mig_control_version, for ws's database on its own server:
 * 0 when the database or its schema_version table does not exist yet
 * (doctor says "run migrate" instead of logging a missing table).
 */
enum store_rc
store_mig_workspace_version(struct db *db, const struct workspace *ws,
    int *version)
{
	struct sq     q;
	enum store_rc rc;
	int           found;

	*version = 0;
	if ((rc = sq_one(&q, db, &ws->srv, SQ_ARGS(SQ_S(ws->db_name)),
	         "SELECT "
	         "COUNT(*) FROM information_schema.tables WHERE table_schema = ? "
	         "AND table_name = 'schema_version'")) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_ERR : rc;
	found = sq_colint(&q, 0) > 0;
	sq_close(&q);
	if (!found)
		return STORE_OK;
	return mig_version(db, &ws->srv, ws->db_name, version);
}
