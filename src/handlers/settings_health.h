/*
 * settings_health: the settings page's Health card (settings_health.c;
 * POST .../check is h_check_now in handlers.h).
 */
#ifndef WABA_HANDLERS_SETTINGS_HEALTH_H
#define WABA_HANDLERS_SETTINGS_HEALTH_H

struct config;
struct conn_page;
struct json_object;
struct workspace;

/*
 * d.health: the card's rows in words, each with the monitor's warnings
 * that belong to it; none when the workspace holds no token.
 */
void settings_health(struct json_object *d, const struct config *,
    const struct workspace *, const struct conn_page *);

#endif
