/*
 * refnet error codes.
 *
 * Every refnet function named as an action returns 0 on success or one of
 * these negative codes.  The table below is the single source: it makes the
 * enum, the names, the messages and the errno each code corresponds to.  Only
 * the socket layer turns a code into an errno (rn_err_to_errno()).
 *
 * Thread safety: [any]; the names and messages are constants.
 */
#ifndef REFNET_ERROR_H
#define REFNET_ERROR_H

/* X(name, errno, message) */
#define RN_ERRNO_MAP(X)                                                      \
    X(NOMEM, ENOMEM, "out of memory")                                        \
    X(INVAL, EINVAL, "invalid argument")                                     \
    X(NOENT, ENOENT, "no such object")                                       \
    X(EXIST, EEXIST, "already exists")                                       \
    X(BUSY, EBUSY, "resource busy")                                          \
    X(AGAIN, EAGAIN, "try again")                                            \
    X(NOSPC, ENOSPC, "no space left")                                        \
    X(IO, EIO, "input/output error")                                         \
    X(PERM, EPERM, "operation not permitted")                                \
    X(ACCES, EACCES, "permission denied")                                    \
    X(NOTSUP, ENOTSUP, "operation not supported")                            \
    X(TIMEDOUT, ETIMEDOUT, "timed out")                                      \
    X(CANCELED, ECANCELED, "operation canceled")                             \
    X(OVERFLOW, EOVERFLOW, "value too large")                                \
    X(RANGE, ERANGE, "out of range")                                         \
    X(NOTHELD, EINVAL, "tag holds no reference on this object")              \
    X(RELEASED, EINVAL, "object already released")                           \
    X(SATURATED, EOVERFLOW, "reference count saturated; object pinned")      \
    X(DYING, ESHUTDOWN, "object is being run down")                          \
    X(FORMAT, EINVAL, "malformed input")                                     \
    X(PROTO, EPROTO, "protocol error")                                       \
    X(BADF, EBADF, "bad handle")                                             \
    X(MFILE, EMFILE, "too many open handles")                                \
    X(AFNOSUPPORT, EAFNOSUPPORT, "address family not supported")             \
    X(ADDRINUSE, EADDRINUSE, "address in use")                               \
    X(ADDRNOTAVAIL, EADDRNOTAVAIL, "address not available")                  \
    X(NETUNREACH, ENETUNREACH, "network unreachable")                        \
    X(NETDOWN, ENETDOWN, "network is down")                                  \
    X(HOSTUNREACH, EHOSTUNREACH, "host unreachable")                         \
    X(CONNREFUSED, ECONNREFUSED, "connection refused")                       \
    X(CONNRESET, ECONNRESET, "connection reset by peer")                     \
    X(CONNABORTED, ECONNABORTED, "connection aborted")                       \
    X(NOTCONN, ENOTCONN, "not connected")                                    \
    X(ISCONN, EISCONN, "already connected")                                  \
    X(ALREADY, EALREADY, "operation already in progress")                    \
    X(INPROGRESS, EINPROGRESS, "operation in progress")                      \
    X(PIPE, EPIPE, "broken pipe")                                            \
    X(SHUTDOWN, ESHUTDOWN, "endpoint shut down")                             \
    X(MSGSIZE, EMSGSIZE, "message too long")                                 \
    X(NOBUFS, ENOBUFS, "no buffer space available")                          \
    X(OPNOTSUPP, EOPNOTSUPP, "operation not supported on this endpoint")     \
    X(DESTADDRREQ, EDESTADDRREQ, "destination address required")            \
    X(NOPROTOOPT, ENOPROTOOPT, "protocol option not available")              \
    X(NOTTY, ENOTTY, "inappropriate ioctl for this handle")                  \
    X(PROTONOSUPPORT, EPROTONOSUPPORT, "protocol not supported")              \
    X(SOCKTNOSUPPORT, ESOCKTNOSUPPORT, "socket type not supported")

enum rn_err {
    RN_OK = 0,
#define RN_ERR_ENUM_(name, errnum, msg) RN_E##name,
    RN_ERR_FIRST_ = -1000,
    RN_ERRNO_MAP(RN_ERR_ENUM_)
#undef RN_ERR_ENUM_
    RN_ERR_LAST_
};

/* Returns the message for a refnet code ("connection refused"), or for any
 * other negative value "unknown error".  Never returns NULL. */
const char *rn_strerror(int err);

/* Returns the code's short name without prefix ("CONNREFUSED"). */
const char *rn_err_name(int err);

/* Returns the POSIX errno a refnet code stands for (positive), or EIO for an
 * unknown code.  Used by the socket layer only. */
int rn_err_to_errno(int err);

#endif /* REFNET_ERROR_H */
