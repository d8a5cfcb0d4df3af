/*
 * version.h — the one place the release version is written.
 */
#ifndef CORE_VERSION_H
#define CORE_VERSION_H

#define BULKHEAD_VERSION "0.1.0"

#endif
