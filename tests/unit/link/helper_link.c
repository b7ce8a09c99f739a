/*
 * Helpers shared by the link-layer unit tests (see helper_link.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_link.h"

const uint8_t th_mac_a[6] = {0x02, 0x00, 0x00, 0x00, 0x0a, 0x01};
const uint8_t th_mac_b[6] = {0x02, 0x00, 0x00, 0x00, 0x0b, 0x02};

struct rn_nbpool *th_pool(uint32_t max)
{
    struct rn_nbpool_params p = {.np_name = "test", .np_max = max, .np_slab = 64};
    struct rn_nbpool *pool = NULL;

    assert_int_equal(rn_nbpool_create(&p, &pool), 0);
    return pool;
}

rn_nb_owner_t th_owner(void)
{
    rn_nb_owner_t o = rn_nb_owner_register("test");

    assert_int_not_equal(o, RN_NB_OWNER_NONE);
    return o;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint8_t pattern(uint32_t seq, size_t i)
{
    return (uint8_t)(seq * 31u + i * 7u + (i >> 8));
}

struct rn_netbuf *th_frame(struct rn_nbpool *pool, uint32_t seq, size_t len)
{
    uint8_t buf[9000];
    size_t i;

    assert_true(len >= 18 && len <= sizeof(buf));
    memcpy(buf, th_mac_b, 6);
    memcpy(buf + 6, th_mac_a, 6);
    put16(buf + 12, TH_ETHERTYPE_TEST);
    put32(buf + 14, seq);
    for (i = 18; i < len; i++)
        buf[i] = pattern(seq, i);
    return th_packet(pool, buf, len);
}

uint32_t th_frame_seq(const struct rn_netbuf *nb)
{
    uint8_t b[4];

    assert_int_equal(rn_nb_copyout(nb, 14, b, 4), 0);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int th_frame_intact(const struct rn_netbuf *nb, uint32_t seq, size_t len)
{
    uint8_t buf[9000];
    size_t i;

    if (nb->nb_pktlen != len || len > sizeof(buf))
        return 0;
    rn_nb_copyout(nb, 0, buf, len);
    if (th_frame_seq(nb) != seq)
        return 0;
    for (i = 18; i < len; i++) {
        if (buf[i] != pattern(seq, i))
            return 0;
    }
    return 1;
}

uint16_t th_csum_fold(const uint8_t *p, size_t len, uint32_t sum)
{
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

static size_t eth(uint8_t *buf, const uint8_t *dmac, const uint8_t *smac, uint16_t type)
{
    memcpy(buf, dmac, 6);
    memcpy(buf + 6, smac, 6);
    put16(buf + 12, type);
    return 14;
}

static size_t arp(uint8_t *buf, uint16_t op, const uint8_t *smac, uint32_t sip,
                  const uint8_t *tmac, uint32_t tip, const uint8_t *edst)
{
    uint8_t *a = buf + eth(buf, edst, smac, 0x0806);

    put16(a, 1);
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, op);
    memcpy(a + 8, smac, 6);
    put32(a + 14, sip);
    memcpy(a + 18, tmac, 6);
    put32(a + 24, tip);
    return 42;
}

size_t th_arp_request(uint8_t *buf, const uint8_t *mac, uint32_t sip, uint32_t tip)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t zero[6];

    return arp(buf, 1, mac, sip, zero, tip, bcast);
}

size_t th_arp_reply(uint8_t *buf, const uint8_t *mac, uint32_t sip, const uint8_t *dmac,
                    uint32_t dip)
{
    return arp(buf, 2, mac, sip, dmac, dip, dmac);
}

static size_t ipv4(uint8_t *ip, uint8_t proto, uint32_t sip, uint32_t dip, size_t payload)
{
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + payload));
    put16(ip + 4, 0x1234);
    put16(ip + 6, 0x4000);  /* DF */
    ip[8] = 64;
    ip[9] = proto;
    put32(ip + 12, sip);
    put32(ip + 16, dip);
    put16(ip + 10, (uint16_t)~th_csum_fold(ip, 20, 0));
    return 20;
}

size_t th_icmp_echo(uint8_t *buf, const uint8_t *smac, const uint8_t *dmac, uint32_t sip,
                    uint32_t dip, uint16_t id, uint16_t seq, size_t payload_len)
{
    size_t off = eth(buf, dmac, smac, 0x0800);
    uint8_t *icmp;
    size_t i;

    off += ipv4(buf + off, 1, sip, dip, 8 + payload_len);
    icmp = buf + off;
    icmp[0] = 8;
    icmp[1] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 4, id);
    put16(icmp + 6, seq);
    for (i = 0; i < payload_len; i++)
        icmp[8 + i] = (uint8_t)('a' + i % 26);
    put16(icmp + 2, (uint16_t)~th_csum_fold(icmp, 8 + payload_len, 0));
    return off + 8 + payload_len;
}

size_t th_udp(uint8_t *buf, const uint8_t *smac, const uint8_t *dmac, uint32_t sip, uint32_t dip,
              uint16_t sport, uint16_t dport, size_t payload_len)
{
    size_t off = eth(buf, dmac, smac, 0x0800);
    uint8_t pseudo[12];
    uint8_t *udp;
    uint16_t c;
    size_t i;

    off += ipv4(buf + off, 17, sip, dip, 8 + payload_len);
    udp = buf + off;
    put16(udp, sport);
    put16(udp + 2, dport);
    put16(udp + 4, (uint16_t)(8 + payload_len));
    put16(udp + 6, 0);
    for (i = 0; i < payload_len; i++)
        udp[8 + i] = (uint8_t)i;
    put32(pseudo, sip);
    put32(pseudo + 4, dip);
    pseudo[8] = 0;
    pseudo[9] = 17;
    put16(pseudo + 10, (uint16_t)(8 + payload_len));
    c = (uint16_t)~th_csum_fold(udp, 8 + payload_len, th_csum_fold(pseudo, 12, 0));
    put16(udp + 6, c ? c : 0xffff);
    return off + 8 + payload_len;
}

struct rn_netbuf *th_packet(struct rn_nbpool *pool, const void *data, size_t len)
{
    struct rn_netbuf *nb = rn_nb_alloc(pool, th_owner());

    assert_non_null(nb);
    assert_int_equal(rn_nb_copyin(nb, 0, data, len), 0);
    return nb;
}

static char tmp_dir[256];
static char tmp_path[512];

const char *th_tmp_path(const char *name)
{
    if (tmp_dir[0] == '\0') {
        snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/refnet-link-test.XXXXXX");
        assert_non_null(mkdtemp(tmp_dir));
    }
    snprintf(tmp_path, sizeof(tmp_path), "%s/%s", tmp_dir, name);
    return tmp_path;
}

void th_tmp_cleanup(void)
{
    char cmd[300];

    if (tmp_dir[0] == '\0')
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", tmp_dir);
    tmp_dir[0] = '\0';
}
