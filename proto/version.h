/* version: the release of samen, shown by --version and samen status. */
#ifndef SAMEN_VERSION_H
#define SAMEN_VERSION_H

#define SAMEN_VERSION "0.1.0"

/*
 * The database schema this release writes (daemon/store_schema.c's STORE_SCHEMA, asserted there,
 * which must equal it).  Here so that samen, which never includes the
 * daemon's headers, can print it with --version.
 */
#define SAMEN_SCHEMA_VERSION 7

#endif
