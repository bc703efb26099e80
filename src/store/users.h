/*
 * users: the control database's users and their memberships (who
 * belongs to which workspace).
 */
#ifndef WABA_USERS_H
#define WABA_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "sql.h"
#include "workspaces.h"

struct user {
	uint64_t id;
	char     email[255];
};

/* The user with that email and the stored password hash (caller's buffer). */
enum store_rc store_user_by_email(struct db *, const char *email, struct user *,
    char *hash, size_t hashlen);
enum store_rc store_user_add(struct db *, const char *email, const char *hash,
    uint64_t *id);
enum store_rc store_user_member_add(struct db *, uint64_t user,
    uint64_t workspace);
/* STORE_OK when user belongs to workspace, STORE_NOTFOUND when not. */
enum store_rc store_user_is_member(struct db *, uint64_t user,
    uint64_t workspace);
/* The user's first workspace (where sign-in lands). */
enum store_rc store_user_first_ws(struct db *, uint64_t user,
    struct workspace *);

#endif
