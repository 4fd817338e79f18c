#include <seccomp.h>

/// SCMP_ACT_ERRNO(e) as a function: the macro is not visible to Swift.
static inline unsigned int slipway_scmp_act_errno(unsigned int e) { return SCMP_ACT_ERRNO(e); }
static const unsigned int SLIPWAY_SCMP_ACT_ALLOW = SCMP_ACT_ALLOW;
