/*
 * migrate: numbered schema migrations for the control database and for
 * every workspace database (doc/contract.md, Database layout). Each
 * database records the versions it has; re-running applies nothing twice.
 */
#ifndef WABA_MIGRATE_H
#define WABA_MIGRATE_H

#include "sql.h"

struct db;
struct workspace;

/* Called with one human-readable line per thing done. */
typedef void (*store_mig_report)(const char *line, void *arg);

enum store_rc store_mig_control(struct db *, store_mig_report, void *);
enum store_rc store_mig_workspace(struct db *, const struct workspace *,
    store_mig_report, void *);
/*
 * The control database's schema version into *version: 0 when it has no
 * schema_version table yet (a fresh server), so a caller can say "run
 * migrate" instead of failing on a missing table.
 */
enum store_rc store_mig_control_version(struct db *, int *version);
/* The same for ws's database, on its server (doctor). */
enum store_rc store_mig_workspace_version(struct db *, const struct workspace *,
    int *version);
/* Latest versions, for status output and tests. */
int store_mig_control_latest(void);
int store_mig_workspace_latest(void);

#endif
