// The hints are static inline functions in the header; this file makes the target a
// C library that SwiftPM can build.
#include "CPrefetch.h"
