/*
 * libFuzzer target for the filter spec language (src/filter/spec.c), the
 * part of the filtering platform that reads what a user types on the
 * command line or sends over the control socket.
 *
 * The input is the spec text (cut at its first NUL).  Besides memory
 * safety (ASan, UBSan), every input is checked for what the platform
 * relies on; a violation aborts:
 *   - a refused spec comes with a one-line message (no newline, not empty);
 *   - an accepted spec is consistent: a known layer and action, port
 *     ranges in order, a prefix of at most 32 bits (IPv4, held mapped) or
 *     128 (IPv6, never mapped) with no host bits, laddr and raddr of one
 *     family, a callout name only for callout actions;
 *   - its canonical form parses back to exactly the same spec, and is
 *     itself canonical (formatting it again gives the same text).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refnet/error.h"
#include "refnet/filter.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_filter_spec: check failed: %s\n", #cond); \
            abort();                                                         \
        }                                                                    \
    } while (0)

static void check_prefix(const struct rn_inaddr *addr, uint8_t plen)
{
    struct rn_ip6 net;
    uint32_t a;

    if (rn_inaddr_is_v4(addr)) {
        CHECK(plen <= 32);
        a = rn_inaddr_to_v4(addr);
        CHECK(plen == 32 || (a & (plen == 0 ? ~0u : ~(~0u << (32 - plen)))) == 0);
        return;
    }
    CHECK(plen <= 128);
    net = rn_ip6_net(&addr->ia_ip6, plen);
    CHECK(rn_ip6_eq(&net, &addr->ia_ip6));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rn_filter_spec a, b;
    char *text, err[256], canon[RN_FILTER_SPEC_MAX], again[RN_FILTER_SPEC_MAX];
    int e;

    if (size > 4096)
        return 0;
    text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    err[0] = '\0';
    e = rn_filter_parse(text, &a, err, sizeof(err));
    free(text);
    if (e != 0) {
        CHECK(e == RN_EINVAL);
        CHECK(err[0] != '\0');
        CHECK(strchr(err, '\n') == NULL);
        return 0;
    }
    CHECK((unsigned)a.fs_layer < RN_FL_COUNT_);
    CHECK(a.fs_action == RN_FA_PERMIT || a.fs_action == RN_FA_BLOCK ||
          a.fs_action == RN_FA_CALLOUT);
    CHECK((a.fs_callout[0] != '\0') == (a.fs_action == RN_FA_CALLOUT));
    CHECK(a.fs_arg[0] == '\0' || a.fs_action == RN_FA_CALLOUT);
    CHECK(!(a.fs_match & RN_FS_LPORT) || (a.fs_lport_lo >= 1 && a.fs_lport_lo <= a.fs_lport_hi));
    CHECK(!(a.fs_match & RN_FS_RPORT) || (a.fs_rport_lo >= 1 && a.fs_rport_lo <= a.fs_rport_hi));
    if (a.fs_match & RN_FS_LADDR)
        check_prefix(&a.fs_laddr, a.fs_lplen);
    if (a.fs_match & RN_FS_RADDR)
        check_prefix(&a.fs_raddr, a.fs_rplen);
    CHECK((a.fs_match & (RN_FS_LADDR | RN_FS_RADDR)) != (RN_FS_LADDR | RN_FS_RADDR) ||
          rn_inaddr_is_v4(&a.fs_laddr) == rn_inaddr_is_v4(&a.fs_raddr));
    rn_filter_spec_format(&a, canon, sizeof(canon));
    CHECK(strlen(canon) < sizeof(canon) - 1);  /* never cut */
    CHECK(rn_filter_parse(canon, &b, err, sizeof(err)) == 0);
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    rn_filter_spec_format(&b, again, sizeof(again));
    CHECK(strcmp(canon, again) == 0);
    return 0;
}
