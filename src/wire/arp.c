/*
 * ARP packet parse and emit for Ethernet/IPv4 (see arp.h).
 *
 * Layout (RFC 826), offsets in bytes:
 *   0 htype  2 ptype  4 hlen  5 plen  6 op  8 sha  14 spa  18 tha  24 tpa
 */
#include <assert.h>
#include <string.h>

#include "wire/arp.h"
#include "wire/bytes.h"

enum rn_drop rn__arp_parse(const uint8_t *p, size_t len, struct rn_arp *ar)
{
    assert(p != NULL || len == 0);
    assert(ar != NULL);

    if (len < RN_ARP_LEN)
        return RN_DROP_TRUNCATED;
    if (rn_get_be16(p) != RN_ARP_HTYPE_ETHER ||
        rn_get_be16(p + 2) != RN_ETHERTYPE_IPV4 || p[4] != RN_ETH_ALEN ||
        p[5] != 4)
        return RN_DROP_BAD_ARP;
    ar->ar_op = rn_get_be16(p + 6);
    if (ar->ar_op != RN_ARP_OP_REQUEST && ar->ar_op != RN_ARP_OP_REPLY)
        return RN_DROP_BAD_ARP;
    memcpy(ar->ar_sha.mac_octet, p + 8, RN_ETH_ALEN);
    ar->ar_spa = rn_get_be32(p + 14);
    memcpy(ar->ar_tha.mac_octet, p + 18, RN_ETH_ALEN);
    ar->ar_tpa = rn_get_be32(p + 24);
    if (rn_mac_is_multicast(&ar->ar_sha))
        return RN_DROP_BAD_ARP;
    return RN_DROP_NONE;
}

size_t rn__arp_emit(uint8_t *out, const struct rn_arp *ar)
{
    assert(out != NULL && ar != NULL);
    assert(ar->ar_op == RN_ARP_OP_REQUEST || ar->ar_op == RN_ARP_OP_REPLY);

    rn_put_be16(out, RN_ARP_HTYPE_ETHER);
    rn_put_be16(out + 2, RN_ETHERTYPE_IPV4);
    out[4] = RN_ETH_ALEN;
    out[5] = 4;
    rn_put_be16(out + 6, ar->ar_op);
    memcpy(out + 8, ar->ar_sha.mac_octet, RN_ETH_ALEN);
    rn_put_be32(out + 14, ar->ar_spa);
    memcpy(out + 18, ar->ar_tha.mac_octet, RN_ETH_ALEN);
    rn_put_be32(out + 24, ar->ar_tpa);
    return RN_ARP_LEN;
}
