/*
 * hl_*: several "host[:port]" entries, comma-separated, naming the nodes
 * of one logical database server (a Galera cluster's, say) in the order
 * they are tried (doc/architecture.md, Storage).
 */
#ifndef WABA_HOSTLIST_H
#define WABA_HOSTLIST_H

#include <stddef.h>

#define HL_MAX 8 /* entries in one list */

struct hl_host {
	char         name[256];
	unsigned int port; /* default_port where the entry names none */
};

/*
 * Splits "h1[:p1], h2[:p2], [v6]:p3" into out (at most max, at most
 * HL_MAX). Returns how many, or -1 with a message in err naming the bad
 * entry: empty entries, characters outside a host name or address,
 * ports outside 1..65535 and too many entries are refused.
 */
int hl_parse(const char *list, unsigned int default_port, struct hl_host *out,
    size_t max, char *err, size_t errlen);

#endif
