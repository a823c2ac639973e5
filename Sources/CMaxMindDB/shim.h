#ifndef SNIFF_CMAXMINDDB_SHIM_H
#define SNIFF_CMAXMINDDB_SHIM_H
#include <maxminddb.h>
#endif
