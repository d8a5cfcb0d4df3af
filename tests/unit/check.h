/*
 * check.h — the unit tests' few macros.  Each test binary counts checks
 * and ends with "N passed, N failed" (the line CI reads).
 */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <stdio.h>

static int check_pass, check_fail;

#define CHECK(cond) do {						\
	if (cond)							\
		check_pass++;						\
	else {								\
		check_fail++;						\
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,	\
		    __LINE__, #cond);					\
	}								\
} while (0)

#define CHECK_DONE() (printf("%d passed, %d failed\n", check_pass,	\
	check_fail), check_fail == 0 ? 0 : 1)

#endif
