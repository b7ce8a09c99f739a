/*
 * The table of the `refnet` commands (commands.h), the one place that says
 * what each command takes: `refnet help` lists it, `refnet help CMD` and
 * `refnet CMD --help` print an entry, tools/refnet.c dispatches on it, and
 * tests/cli/test_help.sh and test_man.sh hold the man pages in man/ to it.
 *
 * Option lines are "  -s, --long VALUE  what it does", two columns, so
 * that a test can read the option names back.
 */
#include <ctype.h>
#include <string.h>

#include "commands.h"

/* The options of every command that asks the daemon. */
#define CTL_OPTION_LINE                                                         \
    "      --ctl PATH         the daemon's control socket (default $REFNET_CTL,\n" \
    "                         else /run/refnet/refnet.sock)\n"
#define TIMEOUT_OPTION_LINE                                                     \
    "      --timeout S        seconds to wait for the answer (default 30)\n"

const struct cmd_def rn__cmd_table[] = {
    {
        .cd_name = "daemon",
        .cd_fn = rn__cmd_daemon,
        .cd_brief = "daemon --tap NAME --addr A/P [OPTION]...",
        .cd_summary = "run a stack on a TAP device",
        .cd_synopsis = "daemon --tap NAME --addr ADDR/PREFIX [--gw ADDR] [--ctl PATH]\n"
                       "       [--addr6 ADDR/PREFIX]...\n"
                       "       [--capture FILE] [--fault SPEC] [--service NAME]...\n"
                       "       [--mac MAC] [--mtu N] [--seed N] [--watchdog S]\n"
                       "       [--offload on|off] [--tap-batch on|off]\n"
                       "       [--plugin PATH[:ARGS]]...\n"
                       "       [--filter SPEC]... [--dump-dir DIR]\n"
                       "       [--reass-timeout S] [--busy-poll US] [--inject enum-leak]\n"
                       "       [--rss N|off] [--rss-key KEY]\n"
                       "       [--service-exec NAME=COMMAND]... [--stop-signal NAME=SIG]...\n"
                       "       [--stop-grace NAME=S]... [--stop-main NAME]...\n"
                       "       [--run-allow-uid UID]...\n"
                       "       [--run-max-sockets N] [--set NAME=VALUE]...\n"
                       "       [--ui ADDR:PORT]",
        .cd_desc = "Runs in the foreground until SIGINT or SIGTERM, with its start-up\n"
                   "and shutdown lines and the watchdog's reports on stderr.  Exit\n"
                   "status: 0 clean shutdown, 1 start-up failure or objects leaked at\n"
                   "shutdown, 2 bad arguments.",
        .cd_options =
            "      --tap NAME         TAP device to run on (created if absent)\n"
            "      --addr A/P         refnet's IPv4 address and prefix length, e.g.\n"
            "                         198.18.0.2/15\n"
            "      --gw ADDR          default gateway, on the interface's prefix\n"
            "      --addr6 A/P        an IPv6 address and its on-link prefix length,\n"
            "                         e.g. 2001:2::2/64 (repeatable, up to 4); turns\n"
            "                         IPv6 on, with a link-local address from the MAC\n"
            "      --ctl PATH         control socket to create (default $REFNET_CTL,\n"
            "                         else /run/refnet/refnet.sock)\n"
            "      --capture FILE     record every frame the stack sees to a pcap file\n"
            "      --fault SPEC       inject faults: drop=2%,dup=1%,reorder=1%,delay=5ms,\n"
            "                         seed=42...\n"
            "      --service NAME     run a built-in service (repeatable): echo (UDP and\n"
            "                         TCP 7), discard (TCP 9), chargen (TCP 19),\n"
            "                         httpd=PORT:DIR\n"
            "      --service-exec NAME=COMMAND\n"
            "                         run COMMAND as service NAME (repeatable), under\n"
            "                         `refnet run`, in a process group of its own; its\n"
            "                         words split as a shell would, with quotes and\n"
            "                         backslashes, but no shell runs it\n"
            "      --stop-signal NAME=SIG\n"
            "                         the signal that stops service NAME (default TERM;\n"
            "                         apache2's graceful stop is WINCH)\n"
            "      --stop-grace NAME=S\n"
            "                         SIGKILL follows the stop signal after S seconds\n"
            "                         (default 10)\n"
            "      --stop-main NAME   the stop signal goes to NAME's command alone, not\n"
            "                         its process group: apache2's and nginx's masters\n"
            "                         stop their children themselves\n"
            "      --mac MAC          the interface's address (default: random, locally\n"
            "                         administered)\n"
            "      --mtu N            the device's MTU, 68..65521\n"
            "      --seed N           seed of the stack's ISNs, ports and ids (default:\n"
            "                         random)\n"
            "      --watchdog S       report waits older than S seconds (default 10; 0: no\n"
            "                         watchdog)\n"
            "      --offload on|off   TAP checksum offload and TSO/GRO (IFF_VNET_HDR;\n"
            "                         default on)\n"
            "      --tap-batch on|off  read and write the TAP's frames in io_uring\n"
            "                         batches (default on; off: a system call a frame)\n"
            "      --plugin PATH[:ARGS]  load a plug-in's callouts at start (repeatable;\n"
            "                         before the filters, which may name them)\n"
            "      --filter SPEC      add a filter at start (repeatable), e.g.\n"
            "                         layer=accept,lport=80,action=callout:connlog;\n"
            "                         naming callout:faulty registers that lab-only\n"
            "                         callout\n"
            "      --dump-dir DIR     write a dump there each time the watchdog reports\n"
            "                         (refnet-TIME-PID.dump; read it with refnet analyze)\n"
            "      --busy-poll US     before each sleep, poll without sleeping for up to US\n"
            "                         microseconds, 0..10000 (default 0: off): lower\n"
            "                         latency for the CPU of a spinning loop\n"
            "      --rss N|off        receive-side scaling over N TAP queues, each with a\n"
            "                         loop thread and stack of its own and the built-in\n"
            "                         services on each, 1..64 (default: one per CPU; one\n"
            "                         for a TAP that exists with a single queue); off: one\n"
            "      --rss-key KEY      the steering's Toeplitz key: 40 bytes as xx:xx:...\n"
            "                         (default Microsoft's verification key)\n"
            "      --reass-timeout S  give up an IPv4 datagram whose fragments did not all\n"
            "                         come within S seconds, 1..3600 (default 30)\n"
            "      --inject FAULT     the lab's faults, off unless named: enum-leak makes\n"
            "                         netstat's enumeration leak references on listeners,\n"
            "                         as in the case (refnet lab clear-leak gives them\n"
            "                         back)\n"
            "      --run-allow-uid UID  a user whose programs may use the stack through\n"
            "                         refnet run (repeatable; default: the daemon's own\n"
            "                         and root)\n"
            "      --run-max-sockets N  sockets one process under refnet run may hold\n"
            "                         (default 1024)\n"
            "      --set NAME=VALUE   one of TCP's settings (repeatable), e.g. tcp.sack=0,\n"
            "                         tcp.rto_min=200ms; refnet get tcp lists them\n"
            "      --ui ADDR:PORT     serve the live view in a browser there, e.g.\n"
            "                         127.0.0.1:8080 (port 0: any free one), or on\n"
            "                         unix:PATH; read-only, actions need the token it\n"
            "                         prints\n",
        .cd_man = "refnet-daemon",
    },
    {
        .cd_name = "status",
        .cd_fn = rn__cmd_status,
        .cd_brief = "status [-j]",
        .cd_summary = "is the daemon alive: version, pid, uptime",
        .cd_synopsis = "status [-j]",
        .cd_options = "  -j, --json             one JSON object\n",
        .cd_man = "refnet-daemon",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "ifconfig",
        .cd_fn = rn__cmd_ifconfig,
        .cd_brief = "ifconfig [-j] | ifconfig NAME remove",
        .cd_summary = "the daemon's interfaces",
        .cd_synopsis = "ifconfig [-j]\n"
                       "ifconfig NAME remove",
        .cd_desc = "remove takes the interface out of the stack and answers once nothing\n"
                   "holds it (exit 0), or after 5 s with exit status 3 and the chain of\n"
                   "what still holds it; the removal goes on.",
        .cd_options = "  -j, --json             JSON instead of the table\n",
        .cd_man = "refnet-netstat",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "arp",
        .cd_fn = rn__cmd_arp,
        .cd_brief = "arp [-j]",
        .cd_summary = "the daemon's ARP cache",
        .cd_synopsis = "arp [-j]",
        .cd_options = "  -j, --json             JSON instead of the table\n",
        .cd_man = "refnet-netstat",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "neigh",
        .cd_fn = rn__cmd_neigh,
        .cd_brief = "neigh [-j]",
        .cd_summary = "the daemon's neighbours, IPv4 and IPv6",
        .cd_synopsis = "neigh [-j]",
        .cd_options = "  -j, --json             JSON instead of the table\n",
        .cd_man = "refnet-netstat",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "ping",
        .cd_fn = rn__cmd_ping,
        .cd_brief = "ping ADDR [COUNT]",
        .cd_summary = "the daemon pings an IPv4 or IPv6 address",
        .cd_synopsis = "ping ADDR [COUNT]",
        .cd_desc = "Sends COUNT (default 3, at most 100) echo requests of 56 data bytes\n"
                   "from the daemon's stack, 0.2 s apart, and waits 1 s after the last.\n"
                   "Exit status 0 if every one was answered, else 1.",
        .cd_man = "refnet-netstat",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT,
    },
    {
        .cd_name = "route",
        .cd_fn = rn__cmd_route,
        .cd_brief = "route [-j]",
        .cd_summary = "the daemon's routes",
        .cd_synopsis = "route [-j]",
        .cd_options = "  -j, --json             JSON instead of the table\n",
        .cd_man = "refnet-netstat",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "stat",
        .cd_fn = rn__cmd_stat,
        .cd_brief = "stat [-j]",
        .cd_summary = "counters, drops by reason, buffers by owner",
        .cd_synopsis = "stat [-j]",
        .cd_options = "  -j, --json             one JSON object: interfaces, protocols, drops,\n"
                      "                         pool\n",
        .cd_man = "refnet-netstat",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "netstat",
        .cd_fn = rn__cmd_netstat,
        .cd_brief = "netstat [-a] [-i] [--refs] [-j]",
        .cd_summary = "TCP and UDP endpoints, owners, holders",
        .cd_synopsis = "netstat [-a] [-i] [--refs] [-j]",
        .cd_desc = "TCP connections and TIME_WAIT entries, and with -a also listeners and\n"
                   "unconnected UDP endpoints: protocol, addresses, state, queues,\n"
                   "references and object id.",
        .cd_options = "  -a, --all              also listeners and unconnected UDP endpoints\n"
                      "  -i, --info             each TCP connection's statistics, as ss -i:\n"
                      "                         options, RTT, RTO, MSS, windows, bytes, segments\n"
                      "      --refs             each row's owner and its holders, tag by tag\n"
                      "  -j, --json             a JSON array of rows\n",
        .cd_man = "refnet-netstat",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "svc",
        .cd_fn = rn__cmd_svc,
        .cd_brief = "svc [list|status|start|stop|drain|add|remove]",
        .cd_summary = "the daemon's services, built-in and commands",
        .cd_synopsis = "svc [list] [-j]\n"
                       "svc status NAME [-j]\n"
                       "svc start NAME[=ARG]\n"
                       "svc stop NAME [--timeout S]\n"
                       "svc drain NAME [S]\n"
                       "svc add NAME [--stop-signal SIG] [--stop-grace S] [--stop-main]\n"
                       "        -- COMMAND...\n"
                       "svc remove NAME",
        .cd_desc = "stop answers once the service is STOPPED (exit 0), or after S\n"
                   "seconds with exit status 3 and the chains that keep it pending, as\n"
                   "`refnet why NAME` prints them; the service stays STOP_PENDING and a\n"
                   "later release still completes the stop.  add makes a service of a\n"
                   "command, run under `refnet run` in a process group of its own; its\n"
                   "stop sends the stop signal to the group, SIGKILL after the grace, and\n"
                   "completes once the group is gone and refnet's cleanups completed.\n"
                   "remove forgets a STOPPED service.\n"
                   "drain gives the service's stops a grace of S seconds (0 to 3600; 0,\n"
                   "the default, aborts at once): the stop refuses new connections and\n"
                   "lets those in progress finish first (httpd); meanwhile `why NAME`\n"
                   "says draining, connections, bytes left and rate, verdict in progress.",
        .cd_options = "  -j, --json             list and status: JSON (an array, one object)\n"
                      "      --timeout S        stop: how long the stop may take (default 30);\n"
                      "                         the answer is awaited S + 15 s.  Otherwise:\n"
                      "                         seconds to wait for the answer (default 30)\n"
                      "      --stop-signal SIG  add: the signal that stops it (default TERM)\n"
                      "      --stop-grace S     add: SIGKILL S seconds after it (default 10)\n"
                      "      --stop-main        add: the stop signal to the command alone, not\n"
                      "                         its process group\n",
        .cd_man = "refnet-svc",
        .cd_flags = CMD_F_CTL | CMD_F_JSON,
    },
    {
        .cd_name = "why",
        .cd_fn = rn__cmd_why,
        .cd_brief = "why [SERVICE|ID]",
        .cd_summary = "what keeps a service, object or wait pending",
        .cd_synopsis = "why [SERVICE|ID]",
        .cd_desc = "Each waiter with what it waits for and since when, down to the\n"
                   "object that blocks, its holders and the verdict.  No JSON form.",
        .cd_man = "refnet-svc",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT,
    },
    {
        .cd_name = "objects",
        .cd_fn = rn__cmd_objects,
        .cd_brief = "objects [-t TYPE] [-j]",
        .cd_summary = "live objects and their holders",
        .cd_synopsis = "objects [-t TYPE] [-j]",
        .cd_options = "  -t, --type TYPE        only objects of this type ('tcp listener')\n"
                      "  -j, --json             a JSON array of objects\n",
        .cd_man = "refnet-objects",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "refs",
        .cd_fn = rn__cmd_refs,
        .cd_brief = "refs ID [-j]",
        .cd_summary = "one object's holders and traced holds",
        .cd_synopsis = "refs ID [-j]",
        .cd_options = "  -j, --json             one JSON object\n",
        .cd_man = "refnet-objects",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "trace",
        .cd_fn = rn__cmd_trace,
        .cd_brief = "trace on|off TYPE|ID [-j]",
        .cd_summary = "trace the references of a type or an object",
        .cd_synopsis = "trace on|off TYPE|ID [-j]",
        .cd_options = "  -j, --json             one JSON object\n",
        .cd_man = "refnet-objects",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "dump",
        .cd_fn = rn__cmd_dump,
        .cd_brief = "dump FILE [-j]",
        .cd_summary = "write the daemon's objects to a dump file",
        .cd_synopsis = "dump FILE [-j]",
        .cd_desc = "FILE is relative to the working directory of the command, not the\n"
                   "daemon's.  Read it with `refnet analyze FILE`.",
        .cd_options = "  -j, --json             one JSON object: path, objects, waits\n",
        .cd_man = "refnet-objects",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "filter",
        .cd_fn = rn__cmd_filter,
        .cd_brief = "filter list | add SPEC | del ID [-j]",
        .cd_summary = "the daemon's filters and callouts",
        .cd_synopsis = "filter list [-j]\n"
                       "filter add SPEC [-j]\n"
                       "filter del ID [-j]",
        .cd_desc = "SPEC is one argument, e.g. layer=inbound-transport,proto=udp,\n"
                   "lport=7,action=block (docs/filtering.md).",
        .cd_options = "  -j, --json             JSON\n",
        .cd_man = "refnet-filter",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "plugin",
        .cd_fn = rn__cmd_plugin,
        .cd_brief = "plugin list | load PATH[:ARGS] | unload NAME [-j]",
        .cd_summary = "third-party callouts loaded from shared objects",
        .cd_synopsis = "plugin list [-j]\n"
                       "plugin load PATH[:ARGS] [-j]\n"
                       "plugin unload NAME [-j]",
        .cd_desc = "A plug-in file must be owned by root or the daemon's user and not\n"
                   "writable by everyone.  unload deletes the filters naming its callouts\n"
                   "and completes once they hold nothing; until then `refnet why` shows\n"
                   "what keeps it (docs/filtering.md, \"Plug-ins\").",
        .cd_options = "  -j, --json             JSON\n",
        .cd_man = "refnet-filter",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "send",
        .cd_fn = rn__cmd_send,
        .cd_brief = "send ADDR PORT [--timeout S] [-v] < FILE",
        .cd_summary = "send stdin over TCP; print what comes back",
        .cd_synopsis = "send ADDR PORT [--timeout S] [-v] < FILE",
        .cd_desc = "Exit status 0 once every byte went out and the connection closed\n"
                   "gracefully.",
        .cd_options = "      --timeout S        seconds the connect may take (default 30)\n"
                      "  -v, --verbose          the daemon's go and summary lines on stderr\n",
        .cd_man = "refnet-transfer",
        .cd_flags = CMD_F_CTL,
    },
    {
        .cd_name = "recv",
        .cd_fn = rn__cmd_recv,
        .cd_brief = "recv PORT [--addr A [--v6only]] [--timeout S] [-v] > FILE",
        .cd_summary = "accept one TCP connection, print what it sends",
        .cd_synopsis = "recv PORT [--addr A [--v6only]] [--timeout S] [-v] > FILE",
        .cd_options = "      --addr A           listen on this address only (default: every IPv4\n"
                      "                         one); an IPv6 address listens on IPv6, and ::\n"
                      "                         on every address of both families\n"
                      "      --v6only           with an IPv6 --addr: IPv6 only (IPV6_V6ONLY)\n"
                      "      --timeout S        seconds to wait for the connection\n"
                      "  -v, --verbose          the daemon's go and summary lines on stderr\n",
        .cd_man = "refnet-transfer",
        .cd_flags = CMD_F_CTL,
    },
    {
        .cd_name = "get",
        .cd_fn = rn__cmd_get,
        .cd_brief = "get [tcp | NAME] [-j] | get URL [-o FILE] [-v]",
        .cd_summary = "TCP's settings; or HTTP GET of an http:// URL",
        .cd_synopsis = "get [tcp | NAME] [-j]\n"
                       "       get URL [-o FILE] [--timeout S] [-v]",
        .cd_desc = "With no operand, tcp, or a setting's name (tcp.sack): TCP's settings\n"
                   "on the daemon's stack, each with its value, refnet's default, Linux's\n"
                   "default and what it does.  With an http:// URL: a GET through refnet,\n"
                   "exit status 0 for a complete 2xx response; 1 otherwise, with the\n"
                   "status line on stderr.",
        .cd_options = "  -j, --json             settings: a JSON array (one object for NAME)\n"
                      "  -o, --output FILE      URL: write the body to FILE instead of stdout\n"
                      "      --timeout S        seconds to wait for the answer, or the connect\n"
                      "                         (default 30)\n"
                      "  -v, --verbose          URL: the daemon's go and summary lines on stderr\n",
        .cd_man = "refnet-transfer",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT | CMD_F_JSON,
    },
    {
        .cd_name = "set",
        .cd_fn = rn__cmd_set,
        .cd_brief = "set NAME VALUE",
        .cd_summary = "change a TCP setting on the running daemon",
        .cd_synopsis = "set NAME VALUE",
        .cd_desc = "Changes a setting (refnet get tcp lists them) for the connections\n"
                   "opened from then on; those open go on as they began.  Values: 0 or\n"
                   "1, bytes (64K, 4M), times with a unit (200ms, 2h), counts, LO-HI for\n"
                   "tcp.port_range, an algorithm's name for tcp.congestion.",
        .cd_man = "refnet-daemon",
        .cd_flags = CMD_F_CTL | CMD_F_TIMEOUT,
    },
    {
        .cd_name = "analyze",
        .cd_fn = rn__cmd_analyze,
        .cd_brief = "analyze FILE [--threshold S] [--object ID | --objects | --html]",
        .cd_summary = "print the waiting chains of a dump file",
        .cd_synopsis = "analyze FILE [--threshold S] [--object ID | --objects | --html]",
        .cd_desc = "What the watchdog would have printed: the waits at least the\n"
                   "threshold old, each down to the object that blocks it, with its\n"
                   "ledger and verdict.  Exit status 0 once printed, whether or not a\n"
                   "chain was found; 1 if the file is not a readable dump.  No JSON form.",
        .cd_options = "      --threshold S      show waits at least S seconds old (default: the\n"
                      "                         dump's watchdog threshold; 0: every wait)\n"
                      "      --object ID        the chains through one object, or the object\n"
                      "      --objects          every object with its ledger\n"
                      "      --html             one self-contained HTML report instead: the\n"
                      "                         chains drawn as graphs, holders, sites, verdict,\n"
                      "                         every object; opens from the file, no network\n",
        .cd_man = "refnet-objects",
    },
    {
        .cd_name = "run",
        .cd_fn = rn__cmd_run,
        .cd_brief = "run [OPTION]... -- PROGRAM [ARG]...",
        .cd_summary = "run a program with its sockets on refnet",
        .cd_synopsis = "run [--ctl PATH] [--name NAME] [--fallback] -- PROGRAM [ARG]...",
        .cd_desc = "Runs an unmodified, dynamically linked program with a shim preloaded\n"
                   "(LD_PRELOAD) that puts its TCP and UDP sockets, AF_INET and AF_INET6,\n"
                   "on the daemon's stack; files, pipes, UNIX sockets, netlink and\n"
                   "loopback (127.0.0.0/8, ::1) stay with the kernel.  Each of its\n"
                   "processes is a refnet process with its pid, name and owner\n"
                   "($REFNET_OWNER).  Exit status: the program's (128 + the signal that\n"
                   "killed it), 1 if it could not be started.\n"
                   "No JSON form.",
        .cd_options = "      --ctl PATH         the daemon's control socket; its run socket is\n"
                      "                         PATH.run (default $REFNET_CTL, else\n"
                      "                         /run/refnet/refnet.sock)\n"
                      "      --name NAME        the first process's name in refnet's listings\n"
                      "                         (default: the program's)\n"
                      "      --fallback         without a daemon, use the kernel's sockets\n"
                      "                         (default: they fail with ENETDOWN)\n",
        .cd_man = "refnet-run",
    },
    {
        .cd_name = "lab",
        .cd_fn = rn__cmd_lab,
        .cd_brief = "lab SCENARIO [OPTION]...",
        .cd_summary = "the case, reproduced on purpose and explained",
        .cd_synopsis = "lab stop-hang|callout-hang|close-wait [--fixed] [--seed N]\n"
                       "       [--threshold S] [--dump FILE]\n"
                       "lab leak [--fixed] [--dump FILE]\n"
                       "lab apache [--fixed] [--threshold S] [--mpm event|prefork]\n"
                       "       [--dump FILE]\n"
                       "lab clear-leak [--ctl PATH] [--timeout S]",
        .cd_desc = "stop-hang, callout-hang and close-wait run in the simulator; leak on\n"
                   "the object manager alone; apache (root) runs Debian's apache2 as a\n"
                   "service of a real daemon, in a network namespace of its own, with\n"
                   "curl load from Linux and the injected enumeration fault; clear-leak\n"
                   "asks a running daemon to give back the references its --inject\n"
                   "enum-leak fault lost.  Exit status 3 when a hang was reproduced and\n"
                   "diagnosed, 0 when the run stopped cleanly (--fixed).  No JSON form.",
        .cd_options = "      --fixed            run the fixed code: the stop completes\n"
                      "      --seed N           the simulation's seed, from 1 (default 1)\n"
                      "      --threshold S      the watchdog's threshold, 1..3600 s (default 10;\n"
                      "                         apache: 1..60, default 3)\n"
                      "      --mpm MPM          apache: apache2's MPM, event (default) or prefork\n"
                      "      --dump FILE        keep the dump the run writes (apache: the moment\n"
                      "                         the watchdog named the holder)\n"
                      "      --ctl PATH         clear-leak: the daemon's control socket\n"
                      "      --timeout S        clear-leak: seconds to wait for the answer\n",
        .cd_man = "refnet-lab",
    },
    {
        .cd_name = "sim",
        .cd_fn = rn__cmd_sim,
        .cd_brief = "sim ping|udp-echo [OPTION]...",
        .cd_summary = "scenarios in the simulator, in virtual time",
        .cd_synopsis = "sim ping [--count N] [--size BYTES] [--loss PCT] [--corrupt PCT]\n"
                       "       [--interval MS] [--seed N] [--trace FILE] [--pcap FILE]\n"
                       "sim udp-echo [--count N] [--max-size BYTES] [--loss PCT]\n"
                       "       [--corrupt PCT] [--interval MS] [--seed N] [--trace FILE]\n"
                       "       [--pcap FILE]",
        .cd_desc = "Two stacks, a (198.18.0.2) and b (198.18.0.3), on one simulated\n"
                   "cable; the same arguments print the same output.  ping: a pings b;\n"
                   "udp-echo: a sends datagrams to b's UDP echo service and checks every\n"
                   "byte that comes back.  No JSON form.",
        .cd_options = "      --count N          requests to send (ping 10, udp-echo 100)\n"
                      "      --size BYTES       ping: data bytes per request (default 56)\n"
                      "      --max-size BYTES   udp-echo: largest datagram (default 1472)\n"
                      "      --loss PCT         percent of frames lost, each way\n"
                      "      --corrupt PCT      percent of frames with one bit flipped, each way\n"
                      "      --interval MS      between requests (ping 1000, udp-echo 10)\n"
                      "      --seed N           every random decision derives from it\n"
                      "      --trace FILE       every frame on the cable, one line each ('-':\n"
                      "                         stdout)\n"
                      "      --pcap FILE        what stack a sent and received, in virtual time\n",
        .cd_man = "refnet-lab",
    },
    {
        .cd_name = "version",
        .cd_fn = rn__cmd_version,
        .cd_brief = "version",
        .cd_summary = "print the version (also --version, -V)",
        .cd_synopsis = "version",
        .cd_man = "refnet",
    },
    {
        .cd_name = "help",
        .cd_fn = rn__cmd_help,
        .cd_brief = "help [COMMAND]",
        .cd_summary = "list the commands, or one command's usage",
        .cd_synopsis = "help [COMMAND]",
        .cd_man = "refnet",
    },
};

const size_t rn__cmd_count = sizeof(rn__cmd_table) / sizeof(rn__cmd_table[0]);

const struct cmd_def *rn__cmd_find(const char *name)
{
    size_t i;

    for (i = 0; i < rn__cmd_count; i++) {
        if (strcmp(rn__cmd_table[i].cd_name, name) == 0)
            return &rn__cmd_table[i];
    }
    return NULL;
}

void rn__cmd_print_usage(const struct cmd_def *c, FILE *f)
{
    const char *line = c->cd_synopsis;
    bool first = true;

    /* "usage: refnet A\n       refnet B"; continuation lines (starting
     * with spaces) stay as they are, under the first. */
    while (*line != '\0') {
        size_t n = strcspn(line, "\n");

        if (line[0] == ' ')
            fprintf(f, "       %.*s\n", (int)n, line);
        else
            fprintf(f, "%s refnet %.*s\n", first ? "usage:" : "      ", (int)n, line);
        first = false;
        line += n + (line[n] == '\n');
    }
    fprintf(f, "\n%c%s.\n", toupper((unsigned char)c->cd_summary[0]), c->cd_summary + 1);
    if (c->cd_desc != NULL)
        fprintf(f, "\n%s\n", c->cd_desc);
    fputs("\noptions:\n", f);
    if (c->cd_options != NULL)
        fputs(c->cd_options, f);
    if (c->cd_flags & CMD_F_CTL)
        fputs(CTL_OPTION_LINE, f);
    if (c->cd_flags & CMD_F_TIMEOUT)
        fputs(TIMEOUT_OPTION_LINE, f);
    fputs("  -h, --help             print this help and exit\n", f);
    fprintf(f, "\nSee %s(8).\n", c->cd_man);
}

void rn__cmd_print_list(FILE *f)
{
    size_t i;

    fputs("usage: refnet [-h | -V] COMMAND [ARG]...\n\ncommands:\n", f);
    for (i = 0; i < rn__cmd_count; i++) {
        const struct cmd_def *c = &rn__cmd_table[i];

        if (strlen(c->cd_brief) <= 28)
            fprintf(f, "  %-28s  %s\n", c->cd_brief, c->cd_summary);
        else
            fprintf(f, "  %s\n  %-28s  %s\n", c->cd_brief, "", c->cd_summary);
    }
    fputs("\nThe commands that ask the daemon take --ctl PATH (default $REFNET_CTL, else\n"
          "/run/refnet/refnet.sock) and --timeout S; listings take -j, --json.\n"
          "Exit status: 0 done, 1 failed (or the daemon cannot be reached), 2 bad usage,\n"
          "3 a hang diagnosed.  `refnet help COMMAND` or `refnet COMMAND --help` prints\n"
          "one command's usage; see refnet(8).\n",
          f);
}

int rn__cmd_help(int argc, char **argv)
{
    const struct cmd_def *self;
    struct cmd_parser p;
    const struct cmd_def *c;
    int o;

    self = rn__cmd_find("help");
    rn__cmd_parser_init(&p, self, "refnet: help: ", NULL, argc, argv);
    while ((o = rn__cmd_getopt(&p)) > 0)
        ;
    if (o == CMD_OPT_STOP)
        return p.cp_status;
    if (p.cp_nops == 0) {
        rn__cmd_parser_free(&p);
        rn__cmd_print_list(stdout);
        return fflush(stdout) == 0 ? CMD_EXIT_OK : CMD_EXIT_FAIL;
    }
    if (p.cp_nops > 1) {
        o = rn__cmd_parser_error(&p, "one command at a time ('%s', then '%s')", p.cp_ops[0],
                             p.cp_ops[1]);
        rn__cmd_parser_free(&p);
        return o;
    }
    c = rn__cmd_find(p.cp_ops[0]);
    if (c == NULL) {
        o = rn__cmd_usage_error("unknown command '%s' (try 'refnet help')", p.cp_ops[0]);
        rn__cmd_parser_free(&p);
        return o;
    }
    rn__cmd_parser_free(&p);
    rn__cmd_print_usage(c, stdout);
    return fflush(stdout) == 0 ? CMD_EXIT_OK : CMD_EXIT_FAIL;
}
