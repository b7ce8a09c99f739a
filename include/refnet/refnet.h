/*
 * refnet: a user-space TCP/IP stack.  This header includes every public
 * header of the library; an embedder includes it alone and links with
 * `pkg-config --cflags --libs refnet`.
 *
 * Where to begin (each header opens with its model and threading rules):
 *   stack.h      a stack: interfaces, routes, the poll that drives it
 *   link.h       link drivers (TAP, loopback, your own) and link filters
 *   loop.h       the real-time loop that runs a stack on a thread
 *   socket.h     processes, handles, sockets: requests and a blocking API
 *   tcp.h        TCP's settings by name, and a connection's statistics
 *   readiness.h  readiness sets: epoll for many sockets
 *   filter.h     the filtering platform and callouts
 *   plugin.h     callouts loaded from shared objects, versioned ABI
 *   object.h     objects, tagged references and the ledger
 *   diag.h       waiting chains, verdicts, the watchdog, dump files
 *
 * Naming: every public symbol starts with rn_ (RN_ for macros).  Names
 * starting with rn__ are internal, even where a public inline function
 * needs them to be visible.  Every function states its thread ([L] the
 * stack's loop thread, [any], [B] any thread but the loop), what it takes
 * ownership of, and the codes it returns (error.h).
 */
#ifndef REFNET_REFNET_H
#define REFNET_REFNET_H

#include "refnet/version.h"
#include "refnet/error.h"
#include "refnet/drop.h"
#include "refnet/report.h"
#include "refnet/strbuf.h"
#include "refnet/value.h"
#include "refnet/addr.h"
#include "refnet/clock.h"
#include "refnet/timer.h"
#include "refnet/runtime.h"
#include "refnet/heap.h"
#include "refnet/loop.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "refnet/diag.h"
#include "refnet/netbuf.h"
#include "refnet/link.h"
#include "refnet/rss.h"
#include "refnet/stack.h"
#include "refnet/filter.h"
#include "refnet/plugin.h"
#include "refnet/transport.h"
#include "refnet/tcp.h"
#include "refnet/socket.h"
#include "refnet/readiness.h"
#include "refnet/netstat_walk.h"
#include "refnet/service.h"
#include "refnet/sim.h"

#endif /* REFNET_REFNET_H */
