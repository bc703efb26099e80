/*
 * clock: the monotonic clock in milliseconds and microseconds, the one
 * measure of budgets, deadlines, leases, rates and durations in every
 * process. Not for times shown or stored (those are the wall clock's,
 * in UTC): CLOCK_MONOTONIC does not jump when the system time is set,
 * so a deadline cannot pass early or never.
 */
#ifndef WABA_CLOCK_H
#define WABA_CLOCK_H

#include <time.h>

static inline long long
clk_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline long long
clk_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
