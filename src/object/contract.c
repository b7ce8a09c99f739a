/*
 * Holder contracts (object.h): which tags may hold a type's objects, in
 * which states, and the condition bits objects carry for the verdict.
 *
 * The reference fast path (object.c) never looks at a contract: it runs
 * only for a holder that already has a ledger line on the object, and a
 * line is made on the slow path, which asks rn__ob_contract_check().  That
 * check is a few loads: per type, one bit per tag says whether the tag was
 * resolved against the contract, and two more what the contract allows it.
 * A tag is resolved once per type (names compared with the contract's
 * rules), the first time it holds an object of that type.
 *
 * Refnet's own holders are the tags some contract names exactly, and the
 * well-known ones; a hold by one of them outside its type's contract is
 * reported.  Any other tag is a third party's, judged later by the verdict
 * (a suspect once the object is dying and the hold older than a bound),
 * never reported at the hold.
 */
#include <inttypes.h>
#include <string.h>

#include "object/ob_priv.h"
#include "refnet/error.h"

/* Tags every object may be held by: the manager's own, and the holders
 * that hold anything for one call (verdict.c bounds them). */
static bool universal(rn_tag_t tag)
{
    return tag == RN_TAG_ENUM || tag == RN_TAG_LOOKUP || tag == RN_TAG_LOOP ||
           tag == RN_TAG_SNAPSHOT || tag == RN_TAG_UNRECORDED;
}

/* Tags some contract names exactly: refnet's own holders. */
static _Atomic uint64_t builtin_tags[RN_TAG_MAX / 64];

static bool bit_get(_Atomic uint64_t *map, rn_tag_t tag)
{
    return (atomic_load_explicit(&map[tag / 64], memory_order_acquire) >> (tag % 64)) & 1u;
}

static void bit_set(_Atomic uint64_t *map, rn_tag_t tag)
{
    atomic_fetch_or_explicit(&map[tag / 64], (uint64_t)1 << (tag % 64), memory_order_release);
}

static bool builtin(rn_tag_t tag)
{
    return tag < RN_TAG_FIRST_DYNAMIC_ || bit_get(builtin_tags, tag);
}

/* The rule of c that covers the tag named name, or NULL. */
static const struct rn_ob_holder *rule_of(const struct rn_ob_contract *c, const char *name)
{
    uint32_t i;

    for (i = 0; i < c->oc_nholders; i++) {
        const char *m = c->oc_holders[i].hr_tag;
        size_t n = strlen(m);

        if (n > 0 && m[n - 1] == ':' ? strncmp(name, m, n) == 0 && name[n] != '\0'
                                     : strcmp(name, m) == 0)
            return &c->oc_holders[i];
    }
    return NULL;
}

int rn_ob_type_set_contract(struct rn_ob_type *type, const struct rn_ob_contract *c)
{
    uint32_t i, w;

    if (type == NULL || c == NULL || c->oc_nconds > RN_OB_CONDS_MAX ||
        (c->oc_nholders > 0 && c->oc_holders == NULL) ||
        (c->oc_nconds > 0 && c->oc_conds == NULL))
        return RN_EINVAL;
    for (i = 0; i < c->oc_nholders; i++) {
        const struct rn_ob_holder *r = &c->oc_holders[i];

        if (r->hr_tag == NULL || r->hr_tag[0] == '\0' || strlen(r->hr_tag) > RN_TAG_NAME_MAX)
            return RN_EINVAL;
        if (c->oc_nconds < 32 && (r->hr_while >> c->oc_nconds) != 0)
            return RN_EINVAL;
    }
    for (i = 0; i < c->oc_nholders; i++) {
        const char *m = c->oc_holders[i].hr_tag;
        rn_tag_t t;

        if (m[strlen(m) - 1] == ':')
            continue;
        t = rn_tag_intern(m);
        if (t == RN_TAG_NONE)
            return RN_ENOMEM;
        bit_set(builtin_tags, t);
    }
    /* A replaced contract starts from nothing resolved.  Checks that race
     * with the replacement may judge by either; tests alone replace one. */
    atomic_store_explicit(&type->t_contract, c, memory_order_release);
    for (w = 0; w < RN_TAG_MAX / 64; w++)
        atomic_store_explicit(&type->t_cbits[OB_CB_CHECKED][w], 0, memory_order_release);
    return 0;
}

const struct rn_ob_contract *rn_ob_type_contract(const struct rn_ob_type *type)
{
    return atomic_load_explicit(&type->t_contract, memory_order_acquire);
}

/* Works out what c allows tag on type t, and records it.  Racing threads
 * compute the same bits. */
static void resolve(struct rn_ob_type *t, const struct rn_ob_contract *c, rn_tag_t tag)
{
    const struct rn_ob_holder *r = rule_of(c, rn_tag_name(tag));

    if (r != NULL) {
        bit_set(t->t_cbits[OB_CB_LIVE], tag);
        if (r->hr_flags & RN_HOLD_DYING)
            bit_set(t->t_cbits[OB_CB_DYING], tag);
    }
    bit_set(t->t_cbits[OB_CB_CHECKED], tag);
}

enum ob_contract_breach rn__ob_contract_check(struct rn_ob_type *t, rn_tag_t tag, bool dying)
{
    const struct rn_ob_contract *c = atomic_load_explicit(&t->t_contract, memory_order_acquire);

    if (c == NULL || tag == RN_TAG_NONE || universal(tag) || tag >= RN_TAG_MAX)
        return OB_CONTRACT_OK;
    if (!bit_get(t->t_cbits[OB_CB_CHECKED], tag))
        resolve(t, c, tag);
    if (!bit_get(t->t_cbits[OB_CB_LIVE], tag))
        return builtin(tag) ? OB_CONTRACT_NOT_HOLDER : OB_CONTRACT_OK;
    if (dying && !bit_get(t->t_cbits[OB_CB_DYING], tag))
        return OB_CONTRACT_LIVE_ONLY;
    return OB_CONTRACT_OK;
}

void rn__ob_contract_report(struct ob_header *h, rn_tag_t tag, enum ob_contract_breach b,
                            const struct rn_site *site)
{
    const struct rn_ob_contract *c = rn_ob_type_contract(h->h_type);
    const char *type = h->h_type->t_ops->name;
    struct rn_strbuf sb = RN_STRBUF_INIT;
    uint32_t i;

    rn_strbuf_printf(&sb, "refnet: misuse (contract): ref by '%s' on %s #%" PRIu64 " at ",
                     rn_tag_name(tag), type, h->h_id);
    if (site != NULL)
        rn_strbuf_printf(&sb, "%s (%s:%d)", site->func, site->file, site->line);
    else
        rn_strbuf_puts(&sb, "(unknown site)");
    if (b == OB_CONTRACT_LIVE_ONLY) {
        rn_strbuf_printf(&sb, "\n  '%s' holds a %s only while it lives; this one is dying\n",
                         rn_tag_name(tag), type);
    } else {
        rn_strbuf_printf(&sb, "\n  '%s' is not a holder of a %s (its holders:", rn_tag_name(tag),
                         type);
        for (i = 0; c != NULL && i < c->oc_nholders; i++)
            rn_strbuf_printf(&sb, "%s %s", i ? "," : "", c->oc_holders[i].hr_tag);
        rn_strbuf_puts(&sb, ")\n");
    }
    rn__ob_misuse(RN_MISUSE_CONTRACT, rn_strbuf_str(&sb));
    rn_strbuf_free(&sb);
}

void rn_ob_cond_set(void *ob, uint32_t bits)
{
    atomic_fetch_or_explicit(&ob_header(ob)->h_conds, bits, memory_order_release);
}

void rn_ob_cond_clear(void *ob, uint32_t bits)
{
    atomic_fetch_and_explicit(&ob_header(ob)->h_conds, ~bits, memory_order_release);
}

uint32_t rn_ob_conds(const void *ob)
{
    return atomic_load_explicit(&ob_header(ob)->h_conds, memory_order_acquire);
}
