/*
 * The TAP's receive-side scaling: an eBPF program, built from the RSS key,
 * that tells the kernel which queue of a multi-queue TAP each frame it
 * sends to refnet goes to (TUNSETSTEERINGEBPF).  It is the network
 * adapter's RSS engine of a real NIC, and agrees with rn_rss_frame_queue()
 * (rss.c) on every frame: the same frames hashed, over the same bytes.
 *
 * The program is generated here as instructions, with no compiler and no
 * library: the Toeplitz hash is linear, so each input bit that is set
 * XORs a fixed 32-bit window of the key into the hash, and the program is
 * that, unrolled, with the windows as immediates.  Per 32-bit word of
 * input: one load, one inversion, then per bit a "jump if clear" (JSET on
 * the inverted word) over an XOR: about 600 instructions for IPv6, run
 * once per frame by the kernel.  Loads are the classic packet loads
 * (BPF_LD | BPF_ABS / BPF_IND), which end the program with 0 (queue 0)
 * when the frame is shorter than asked: that is the short frame's rule.
 *
 * Ahead of the hash, a port may be pinned to a queue (an "ntuple" rule, as
 * `ethtool -N` sets on a NIC): the program looks the transport protocol
 * and destination port up in a hash map that refnet fills
 * (rn__tap_pin()), and a pinned port's frames go to its queue whatever
 * their source.  The kernel keeps program and map for as long as the
 * device is attached to the program.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "link/tap_steer.h"
#include "refnet/error.h"

/* Instructions at most: 12 words of 32 bits (3 for IPv4, 9 for IPv6) at
 * 2 per bit and a load and an inversion each, and the rest (about 40). */
#define STEER_MAX 1024

/* Registers: r1 the frame (context) on entry and a call's first
 * argument, r2 its second, r0 loads' and calls' results, r6 the context
 * for packet loads, r7 the hash, r8 the IPv4 header's length, r9 the
 * transport protocol, r10 the frame pointer. */
enum { R0 = 0, R1 = 1, R2 = 2, R6 = 6, R7 = 7, R8 = 8, R9 = 9, R10 = 10 };

struct steer_prog {
    int sp_pins;  /* the pin map's file descriptor */
    struct bpf_insn sp_insn[STEER_MAX];
    unsigned sp_n;
    bool sp_full;
    /* Jumps to be pointed at the "queue 0" exit once it is placed. */
    unsigned sp_to_zero[16];
    unsigned sp_nzero;
};

static unsigned emit(struct steer_prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off,
                     int32_t imm)
{
    struct bpf_insn *in;

    if (p->sp_n >= STEER_MAX) {
        p->sp_full = true;
        return p->sp_n;
    }
    in = &p->sp_insn[p->sp_n];
    memset(in, 0, sizeof(*in));
    in->code = code;
    in->dst_reg = dst & 0xf;
    in->src_reg = src & 0xf;
    in->off = off;
    in->imm = imm;
    return p->sp_n++;
}

/* A conditional jump (code BPF_JEQ, BPF_JNE, ...) to the "queue 0" exit. */
static void jump_zero(struct steer_prog *p, uint8_t op, uint8_t dst, int32_t imm)
{
    unsigned at = emit(p, BPF_JMP | op | BPF_K, dst, 0, 0, imm);

    if (p->sp_nzero < sizeof(p->sp_to_zero) / sizeof(p->sp_to_zero[0]))
        p->sp_to_zero[p->sp_nzero++] = at;
    else
        p->sp_full = true;
}

/* Points the jump at `at` to the next instruction to be emitted. */
static void land(struct steer_prog *p, unsigned at)
{
    if (at < p->sp_n)
        p->sp_insn[at].off = (int16_t)(p->sp_n - at - 1);
}

/* r0 = the 32-bit word at frame offset off (from r8 if ind); then, for
 * each of its bits, input bit `bit` onward, XOR that bit's key window
 * into the hash when the bit is set. */
static void hash_word(struct steer_prog *p, const struct rn_rss *rss, int32_t off, bool ind,
                      unsigned bit)
{
    unsigned k;

    emit(p, BPF_LD | (ind ? BPF_IND : BPF_ABS) | BPF_W, 0, ind ? R8 : 0, 0, off);
    emit(p, BPF_ALU | BPF_XOR | BPF_K, R0, 0, 0, -1);  /* now set = clear */
    for (k = 0; k < 32; k++) {
        emit(p, BPF_JMP | BPF_JSET | BPF_K, R0, 0, 1, (int32_t)(1u << (31 - k)));
        emit(p, BPF_ALU | BPF_XOR | BPF_K, R7, 0, 0,
             (int32_t)rn_rss_key_window(rss->rs_key, bit + k));
    }
}

/* A pinned port's queue wins over the hash: looks the protocol (r9) and
 * the destination port (at off, from r8 if ind) up in the pin map and,
 * if there, ends with its queue. */
static void pin_lookup(struct steer_prog *p, int32_t off, bool ind)
{
    emit(p, BPF_LD | (ind ? BPF_IND : BPF_ABS) | BPF_H, 0, ind ? R8 : 0, 0, off);
    emit(p, BPF_ALU64 | BPF_LSH | BPF_K, R9, 0, 0, 16);
    emit(p, BPF_ALU64 | BPF_OR | BPF_X, R0, R9, 0, 0);
    emit(p, BPF_STX | BPF_MEM | BPF_W, R10, R0, -4, 0);
    emit(p, BPF_LD | BPF_DW | BPF_IMM, R1, BPF_PSEUDO_MAP_FD, 0, p->sp_pins);
    emit(p, 0, 0, 0, 0, 0);                                  /* imm's upper half */
    emit(p, BPF_ALU64 | BPF_MOV | BPF_X, R2, R10, 0, 0);
    emit(p, BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, -4);
    emit(p, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 2, 0);
    emit(p, BPF_LDX | BPF_MEM | BPF_W, R0, R0, 0, 0);
    emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

static void build(struct steer_prog *p, const struct rn_rss *rss)
{
    unsigned to_v6, to_v4ok, to_v6ok, to_fin, w;

    emit(p, BPF_ALU64 | BPF_MOV | BPF_X, R6, R1, 0, 0);
    emit(p, BPF_ALU64 | BPF_MOV | BPF_K, R7, 0, 0, 0);
    emit(p, BPF_LD | BPF_ABS | BPF_H, 0, 0, 0, 12);           /* EtherType */
    to_v6 = emit(p, BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 0, 0x86dd);
    jump_zero(p, BPF_JNE, R0, 0x0800);

    /* IPv4: version 4, a header of at least 20 bytes, not a fragment,
     * TCP or UDP; source and destination, then the ports after the
     * header, options or not. */
    emit(p, BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 14);
    emit(p, BPF_ALU64 | BPF_MOV | BPF_X, R8, R0, 0, 0);
    emit(p, BPF_ALU64 | BPF_RSH | BPF_K, R0, 0, 0, 4);
    jump_zero(p, BPF_JNE, R0, 4);
    emit(p, BPF_ALU64 | BPF_AND | BPF_K, R8, 0, 0, 0x0f);
    emit(p, BPF_ALU64 | BPF_LSH | BPF_K, R8, 0, 0, 2);
    jump_zero(p, BPF_JLT, R8, 20);
    emit(p, BPF_LD | BPF_ABS | BPF_H, 0, 0, 0, 20);           /* flags, offset */
    jump_zero(p, BPF_JSET, R0, 0x3fff);
    emit(p, BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 23);           /* protocol */
    emit(p, BPF_ALU64 | BPF_MOV | BPF_X, R9, R0, 0, 0);
    to_v4ok = emit(p, BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 0, 6);
    jump_zero(p, BPF_JNE, R0, 17);
    land(p, to_v4ok);
    pin_lookup(p, 14 + 2, true);                             /* 14 + r8 + 2 */
    hash_word(p, rss, 14 + 12, false, 0);
    hash_word(p, rss, 14 + 16, false, 32);
    hash_word(p, rss, 14, true, 64);                         /* 14 + r8 */
    to_fin = emit(p, BPF_JMP | BPF_JA, 0, 0, 0, 0);

    /* IPv6: version 6, TCP or UDP as the first next header; source and
     * destination, then the ports right after the fixed header. */
    land(p, to_v6);
    emit(p, BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 14);
    emit(p, BPF_ALU64 | BPF_RSH | BPF_K, R0, 0, 0, 4);
    jump_zero(p, BPF_JNE, R0, 6);
    emit(p, BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 14 + 6);       /* next header */
    emit(p, BPF_ALU64 | BPF_MOV | BPF_X, R9, R0, 0, 0);
    to_v6ok = emit(p, BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 0, 6);
    jump_zero(p, BPF_JNE, R0, 17);
    land(p, to_v6ok);
    pin_lookup(p, 14 + 40 + 2, false);
    for (w = 0; w < 9; w++)
        hash_word(p, rss, (int32_t)(14 + 8 + 4 * w), false, 32 * w);

    /* The queue: the indirection table's entry hash mod 128, which holds
     * that mod the number of queues. */
    land(p, to_fin);
    emit(p, BPF_ALU64 | BPF_MOV | BPF_X, R0, R7, 0, 0);
    emit(p, BPF_ALU64 | BPF_AND | BPF_K, R0, 0, 0, (int32_t)(RN_RSS_TABLE_LEN - 1));
    if (rss->rs_queues > 1)
        emit(p, BPF_ALU64 | BPF_MOD | BPF_K, R0, 0, 0, (int32_t)rss->rs_queues);
    else
        emit(p, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0);
    emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

    /* Queue 0: what is not hashed. */
    for (w = 0; w < p->sp_nzero; w++)
        land(p, p->sp_to_zero[w]);
    emit(p, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0);
    emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

int rn__tap_pins_create(char *why, size_t whylen)
{
    union bpf_attr attr;
    int fd, e;

    memset(&attr, 0, sizeof(attr));
    attr.map_type = BPF_MAP_TYPE_HASH;
    attr.key_size = sizeof(uint32_t);
    attr.value_size = sizeof(uint32_t);
    attr.max_entries = RN_RSS_PINS_MAX;
    snprintf(attr.map_name, sizeof(attr.map_name), "refnet_pins");
    fd = (int)syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
    if (fd < 0) {
        e = errno;
        snprintf(why, whylen, "cannot create the port pin map: %s", strerror(e));
        return e == EPERM ? RN_EPERM : e == ENOMEM ? RN_ENOMEM : RN_EIO;
    }
    return fd;
}

static uint32_t pin_key(uint8_t proto, uint16_t port)
{
    return (uint32_t)proto << 16 | port;
}

int rn__tap_pin(int pins, uint8_t proto, uint16_t port, unsigned queue)
{
    uint32_t key = pin_key(proto, port), val = queue;
    union bpf_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.map_fd = (uint32_t)pins;
    attr.key = (uint64_t)(uintptr_t)&key;
    attr.value = (uint64_t)(uintptr_t)&val;
    attr.flags = BPF_ANY;
    if (syscall(SYS_bpf, BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr)) == 0)
        return 0;
    return errno == E2BIG ? RN_ENOSPC : errno == ENOMEM ? RN_ENOMEM : RN_EIO;
}

int rn__tap_unpin(int pins, uint8_t proto, uint16_t port)
{
    uint32_t key = pin_key(proto, port);
    union bpf_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.map_fd = (uint32_t)pins;
    attr.key = (uint64_t)(uintptr_t)&key;
    if (syscall(SYS_bpf, BPF_MAP_DELETE_ELEM, &attr, sizeof(attr)) == 0)
        return 0;
    return errno == ENOENT ? RN_ENOENT : RN_EIO;
}

int rn__tap_steer_load(const struct rn_rss *rss, int pins, char *why, size_t whylen)
{
    struct steer_prog *prog;
    char log[512] = "";
    union bpf_attr attr;
    int fd, e, tries;

    if (rss->rs_queues == 0 || rss->rs_queues > RN_RSS_QUEUES_MAX) {
        snprintf(why, whylen, "%u queues (1 to %u)", rss->rs_queues, RN_RSS_QUEUES_MAX);
        return RN_EINVAL;
    }
    prog = calloc(1, sizeof(*prog));
    if (prog == NULL) {
        snprintf(why, whylen, "out of memory");
        return RN_ENOMEM;
    }
    prog->sp_pins = pins;
    build(prog, rss);
    if (prog->sp_full) {
        free(prog);
        snprintf(why, whylen, "steering program longer than %u instructions", STEER_MAX);
        return RN_EINVAL;
    }
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = (uint64_t)(uintptr_t)prog->sp_insn;
    attr.insn_cnt = prog->sp_n;
    attr.license = (uint64_t)(uintptr_t)"";  /* the map look-up asks for none */
    snprintf(attr.prog_name, sizeof(attr.prog_name), "refnet_rss");
    /* The kernel may answer EAGAIN under memory pressure (as libbpf
     * knows, which tries five times): try again, a few times. */
    for (tries = 0; tries < 5; tries++) {
        fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
        e = errno;
        if (fd >= 0 || e != EAGAIN)
            break;
    }
    if (fd < 0 && e != EPERM) {
        /* Again with the verifier's log, for the reason: its whole log
         * does not fit the buffer (ENOSPC) when the program is fine. */
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = sizeof(log);
        attr.log_level = 1;
        (void)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
    }
    free(prog);
    if (fd < 0) {
        char *nl;

        /* The verifier's last complaint, on one line. */
        log[sizeof(log) - 1] = '\0';
        while ((nl = strchr(log, '\n')) != NULL)
            *nl = ' ';
        snprintf(why, whylen, "cannot load the steering program: %s%s%.200s", strerror(e),
                 log[0] ? ": " : "", log);
        return e == EPERM ? RN_EPERM : e == ENOMEM ? RN_ENOMEM : RN_EIO;
    }
    return fd;
}
