#ifndef SNIFF_CSQLITE_SHIM_H
#define SNIFF_CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_TRANSIENT is a cast of -1 to a function pointer, which Swift cannot import.
static inline sqlite3_destructor_type sniff_sqlite_transient(void) { return SQLITE_TRANSIENT; }
static inline sqlite3_destructor_type sniff_sqlite_static(void) { return SQLITE_STATIC; }
/* sqlite3_config is variadic, which Swift cannot call. Only valid before SQLite is
   initialized (the first open); afterwards it returns SQLITE_MISUSE and changes nothing. */
static inline int sniff_sqlite_disable_memstatus(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

#endif
