// The one place Slipway's version is written. The forwarder (C) and the engine (Swift) both
// read it, and a client only ever talks to an engine of the same version.
#ifndef SLIPWAY_VERSION_H
#define SLIPWAY_VERSION_H

#define SLIPWAY_VERSION "0.2.0"

/// SLIPWAY_VERSION, for Swift (which does not import string macros).
const char *slipway_version(void);

#endif
