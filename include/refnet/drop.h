/*
 * Packet drop reasons.
 *
 * Input from the network is never asserted on: a packet that cannot be
 * accepted is dropped and counted under one of these reasons, the way Linux
 * counts skb drop reasons.  The wire parsers (src/wire/) return them
 * directly; the layers above add their own (routing, reassembly, ports,
 * queues).  The table below is the single source: it makes the enum, the
 * short names used in counters and reports, and the one-line descriptions.
 *
 * Thread safety: [any]; the names and descriptions are constants.
 *
 * To add a reason, add one X() line anywhere in the map.  Values are not
 * stable across builds, so never store them: store the name.
 */
#ifndef REFNET_DROP_H
#define REFNET_DROP_H

/* X(NAME, "name", "description") */
#define RN_DROP_MAP(X)                                                         \
    X(TRUNCATED, "truncated",                                                  \
      "shorter than the fixed header of its protocol")                         \
    X(BAD_ETH, "bad_eth",                                                      \
      "malformed Ethernet header (e.g. multicast source address)")             \
    X(UNSUPPORTED_ETHERTYPE, "unsupported_ethertype",                          \
      "EtherType not handled (VLAN tag, 802.3 length field, unknown type)")    \
    X(BAD_ARP, "bad_arp",                                                      \
      "ARP packet not Ethernet/IPv4, bad opcode or multicast sender")          \
    X(BAD_IP_VERSION, "bad_ip_version",                                        \
      "IP version field is not 4")                                             \
    X(BAD_IP_HDR_LEN, "bad_ip_hdr_len",                                        \
      "IPv4 header length below 20 bytes or beyond the packet")                \
    X(BAD_IP_TOTAL_LEN, "bad_ip_total_len",                                    \
      "IPv4 total length below the header length or beyond the frame")         \
    X(BAD_IP_CSUM, "bad_ip_csum",                                              \
      "IPv4 header checksum does not verify")                                  \
    X(BAD_IP_OPTIONS, "bad_ip_options",                                        \
      "IPv4 option with a bad length or running past the header")              \
    X(BAD_IP_FRAG, "bad_ip_frag",                                              \
      "non-last fragment whose payload is empty or not a multiple of 8")       \
    X(IP_TTL_EXPIRED, "ip_ttl_expired",                                        \
      "TTL would reach zero while forwarding")                                 \
    X(NOT_FOR_US, "not_for_us",                                                \
      "addressed to another host")                                             \
    X(FRAG_OVERLAP, "frag_overlap",                                            \
      "fragment overlaps data already queued for reassembly")                  \
    X(FRAG_DUPLICATE, "frag_duplicate",                                        \
      "fragment already held for reassembly")                                 \
    X(FRAG_TOO_BIG, "frag_too_big",                                            \
      "fragment would end beyond the 65535-byte IPv4 limit")                   \
    X(FRAG_TIMEOUT, "frag_timeout",                                            \
      "reassembly did not complete in time")                                   \
    X(FRAG_NO_MEMORY, "frag_no_memory",                                        \
      "reassembly memory limit reached")                                       \
    X(BAD_ICMP_CSUM, "bad_icmp_csum",                                          \
      "ICMP checksum does not verify")                                         \
    X(BAD_ICMP, "bad_icmp",                                                    \
      "ICMP error message without a usable quoted IPv4 header")                \
    X(BAD_UDP_LEN, "bad_udp_len",                                              \
      "UDP length field below 8 or beyond the IP payload")                     \
    X(BAD_UDP_CSUM, "bad_udp_csum",                                            \
      "UDP checksum does not verify")                                          \
    X(UDP_NO_PORT, "udp_no_port",                                              \
      "no UDP endpoint bound to the destination port")                         \
    X(UDP_RCVBUF, "udp_rcvbuf",                                                \
      "UDP endpoint's receive queue at its limit (SO_RCVBUF)")                 \
    X(BAD_TCP_HDR_LEN, "bad_tcp_hdr_len",                                      \
      "TCP data offset below 5 words or beyond the segment")                   \
    X(BAD_TCP_CSUM, "bad_tcp_csum",                                            \
      "TCP checksum does not verify")                                          \
    X(BAD_TCP_OPTIONS, "bad_tcp_options",                                      \
      "TCP option with a bad length or running past the header")               \
    X(NO_BUFFER, "no_buffer",                                                  \
      "no packet buffer available")                                            \
    X(QUEUE_FULL, "queue_full",                                                \
      "queue at its limit")                                                    \
    X(FAULT_INJECTED, "fault_injected",                                        \
      "dropped on purpose by a fault-injection filter")                        \
    X(ARP_UNRESOLVED, "arp_unresolved",                                        \
      "next hop's link address could not be resolved")                         \
    X(NO_ROUTE, "no_route",                                                    \
      "no route to the destination")                                           \
    X(TCP_NO_PORT, "tcp_no_port",                                              \
      "no TCP listener or connection for the segment (answered with RST)")   \
    X(TCP_OUT_OF_WINDOW, "tcp_out_of_window",                                  \
      "TCP segment outside the receive window (answered with ACK)")         \
    X(TCP_DUPLICATE, "tcp_duplicate",                                          \
      "TCP segment wholly received before (a retransmission; ACKed)")         \
    X(TCP_PAWS, "tcp_paws",                                                    \
      "TCP segment with an old timestamp (RFC 7323 PAWS)")                     \
    X(TCP_BAD_ACK, "tcp_bad_ack",                                              \
      "TCP ACK for data never sent, or too old")                              \
    X(TCP_BAD_STATE, "tcp_bad_state",                                          \
      "TCP segment not acceptable in the connection's state")                 \
    X(TCP_RST_NO_CONN, "tcp_rst_no_conn",                                      \
      "TCP RST to a listening port for no connection (one already gone): "     \
      "ignored, RFC 9293 3.10.7.2")                                           \
    X(TCP_LISTEN_OVERFLOW, "tcp_listen_overflow",                              \
      "SYN dropped: the listener's queues are full")                          \
    X(TCP_LISTEN_REFUSED, "tcp_listen_refused",                                \
      "SYN refused with a RST: its listener takes no more connections "        \
      "(RN_SO_LISTEN_REFUSE, a service at its connection cap)")               \
    X(UNKNOWN_PROTO, "unknown_proto",                                          \
      "no transport registered for the IP protocol")                          \
    X(BAD_IP_SRC, "bad_ip_src",                                                \
      "source address no host sends from: broadcast, multicast, 0/8, "         \
      "loopback, class E, or one of ours from the wire (LAND)")                \
    X(FILTER_BLOCKED, "filter_blocked",                                        \
      "blocked by a filter or callout of the filtering platform (filter.h)")   \
    X(TOO_BIG_DF, "too_big_df",                                                \
      "outgoing packet longer than its route's MTU, with don't-fragment set") \
    X(BAD_IP6_PAYLOAD_LEN, "bad_ip6_payload_len",                              \
      "IPv6 payload length runs past the frame")                              \
    X(BAD_IP6_SRC, "bad_ip6_src",                                              \
      "IPv6 source no host sends from: multicast, loopback, mapped IPv4, "     \
      ":: to a transport, or one of ours from the wire")                      \
    X(BAD_IP6_EXT, "bad_ip6_ext",                                              \
      "IPv6 extension header runs past the datagram, or hop-by-hop not "      \
      "first (RFC 8200 4.1)")                                                 \
    X(IP6_UNKNOWN_OPTION, "ip6_unknown_option",                                \
      "hop-by-hop or destination option unknown, with action bits saying "    \
      "discard (RFC 8200 4.2)")                                               \
    X(IP6_ROUTING_TYPE0, "ip6_routing_type0",                                  \
      "routing header type 0 with segments left: refused (RFC 5095)")         \
    X(IP6_ROUTING, "ip6_routing",                                              \
      "routing header of a type refnet does not process, with segments "      \
      "left (RFC 8200 4.4)")                                                  \
    X(BAD_IP6_FRAG, "bad_ip6_frag",                                            \
      "IPv6 fragment malformed: length not a multiple of 8 with more "        \
      "fragments, or past 65535 bytes")                                       \
    X(IP6_NO_NEXT_HEADER, "ip6_no_next_header",                                \
      "IPv6 datagram whose chain ends in no-next-header (59): nothing to "    \
      "deliver")                                                              \
    X(BAD_NDP, "bad_ndp",                                                      \
      "neighbour discovery message fails RFC 4861 validation: hop limit "     \
      "not 255, code not 0, short, bad option, or bad addresses")             \
    X(ND_UNRESOLVED, "nd_unresolved",                                          \
      "IPv6 next hop never answered neighbour solicitation")                  \
    X(ND_DAD_CONFLICT, "nd_dad_conflict",                                      \
      "packet for an IPv6 address that duplicate address detection found "    \
      "in use elsewhere")                                                     \
    X(BAD_RA, "bad_ra",                                                        \
      "router advertisement fails RFC 4861 6.1.2: source not link-local, "    \
      "hop limit not 255, code not 0, short, or an option of length 0 or "    \
      "past the end")                                                         \
    X(BAD_REDIRECT, "bad_redirect",                                            \
      "redirect fails RFC 4861 8.1: source not link-local, hop limit not "    \
      "255, code not 0, short, multicast destination, target neither "        \
      "link-local nor the destination, or a bad option")                     \
    X(REDIRECT_NOT_ROUTER, "redirect_not_router",                              \
      "redirect from a node that is not the current first hop for its "       \
      "destination (RFC 4861 8.1)")                                           \
    X(RA_ROUTER_LIMIT, "ra_router_limit",                                      \
      "router advertisement from a new router while the default router "      \
      "list is full: not added")                                              \
    X(RA_PREFIX_LIMIT, "ra_prefix_limit",                                      \
      "prefix option for a new prefix while the prefix list is full, or "     \
      "past the prefix options read from one advertisement: ignored")         \
    X(SLAAC_ADDR_LIMIT, "slaac_addr_limit",                                    \
      "autonomous prefix while the interface holds as many autoconfigured "   \
      "addresses as it may: no address formed")                              \
    X(BAD_RA_PREFIX, "bad_ra_prefix",                                          \
      "prefix option ignored (RFC 4862 5.5.3): link-local prefix, preferred " \
      "lifetime over the valid one, or an autonomous prefix not 64 bits")    \
    X(BAD_MLD, "bad_mld",                                                      \
      "MLD query fails RFC 3810 5.1: source not link-local, hop limit not "   \
      "1, code not 0, or a length neither MLDv1's nor MLDv2's")              \
    X(PTB_NOT_OURS, "ptb_not_ours",                                            \
      "ICMPv6 packet too big about a datagram refnet did not send, or to a "  \
      "destination it has no route to")                                       \
    X(IP6_FRAG_CHAIN, "ip6_frag_chain",                                        \
      "first IPv6 fragment without the whole header chain up to the "         \
      "upper-layer header (RFC 7112)")                                        \
    X(BAD_ICMP6_QUOTE, "bad_icmp6_quote",                                      \
      "ICMPv6 error whose quoted datagram cannot be walked to its upper-"     \
      "layer header (an extension header runs past the quote or is bad, a "  \
      "later fragment), or that quotes less than 8 bytes of TCP or UDP")      \
    X(ICMP6_ERR_NOT_OURS, "icmp6_err_not_ours",                                \
      "ICMPv6 unreachable, time exceeded or parameter problem about a "       \
      "datagram refnet did not send (the quoted source is not its own)")

/*
 * RN_DROP_NONE (0) means "not dropped", so a parser's result can be tested
 * with `if (reason)`.  RN_DROP_MAX_ is the number of values including NONE:
 * size per-reason counter arrays with it.
 */
enum rn_drop {
    RN_DROP_NONE = 0,
#define RN_DROP_ENUM_(name, str, desc) RN_DROP_##name,
    RN_DROP_MAP(RN_DROP_ENUM_)
#undef RN_DROP_ENUM_
    RN_DROP_MAX_
};

/* Returns the reason's short name ("bad_ip_csum"), "none" for RN_DROP_NONE,
 * or "unknown" for a value outside the enum.  Never returns NULL; the string
 * is static. */
const char *rn_drop_name(enum rn_drop reason);

/* Returns the reason's one-line description, "not dropped" for RN_DROP_NONE,
 * or "unknown drop reason".  Never returns NULL; the string is static. */
const char *rn_drop_desc(enum rn_drop reason);

/* Returns the reason whose short name is `name` (as rn_drop_name() prints
 * it, "none" included), or RN_EINVAL if there is none.  For user input such
 * as a counter filter on the command line. */
int rn_drop_from_name(const char *name);

#endif /* REFNET_DROP_H */
