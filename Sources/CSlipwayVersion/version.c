#include "slipway_version.h"

const char *slipway_version(void) { return SLIPWAY_VERSION; }
