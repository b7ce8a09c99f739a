/*
 * The version of refnet: of the headers a program was built with (the
 * macros) and of the library it runs with (rn_version()).
 *
 * The library's soname carries RN_VERSION_MAJOR: a program built against
 * one major version runs with any library of that major version whose
 * minor is at least the one it was built with.
 */
#ifndef REFNET_VERSION_H
#define REFNET_VERSION_H

#define RN_VERSION_MAJOR 0
#define RN_VERSION_MINOR 2
#define RN_VERSION_PATCH 0
#define RN_VERSION_STRING "0.2.0"

/* [any] The version of the library in use, "0.2.0". */
const char *rn_version(void);

#endif /* REFNET_VERSION_H */
