/*
 * bundle.h - the content bundle format (version 1): constants, record
 * layouts and limits shared by the writer (bundle_write.c, the compiler's
 * side) and the loader (load.c, the engine's side).
 *
 * All integers are little endian; all records have fixed sizes; the file
 * is read with byte loads (no casts of file bytes to structs), so neither
 * alignment nor host layout matters.  docs/CONTENT.md describes the format
 * byte by byte; this header is its machine-readable half.
 *
 *   header (128 bytes)
 *   section table: section_count entries of 16 bytes
 *   sections, each 8-aligned: a 16-byte section header, then the payload
 *
 * A reader checks every count, offset, length and string reference against
 * the bundle size before it uses it, and refuses what it does not know
 * (versions, section types, flags, opcodes, non-zero reserved bytes).
 */
#ifndef RF_CONTENT_BUNDLE_H
#define RF_CONTENT_BUNDLE_H

#include <stdint.h>
#include <string.h>

/* "\x89RFB\r\n\x1a\n": binary, and damaged by text-mode transfers. */
#define RFB_MAGIC "\x89RFB\r\n\x1a\n"
#define RFB_MAGIC_LEN 8u
#define RFB_FORMAT_VERSION 1u

/*
 * Engine ABI: the instruction set and operator semantics.  A bundle says
 * which range of engine ABIs it was built for; an engine outside it refuses
 * the bundle.  An engine that changes what any opcode or operator means
 * gets a new ABI number.
 */
#define RFE_ABI 1u

/* ---- header: 128 bytes at offset 0 ---- */
#define RFB_HDR_SIZE 128u
#define RFB_HDR_MAGIC 0u          /* 8 bytes */
#define RFB_HDR_VERSION 8u        /* u16 format version */
#define RFB_HDR_HDRSIZE 10u       /* u16 header size (128) */
#define RFB_HDR_FLAGS 12u         /* u32, 0 */
#define RFB_HDR_ABI_MIN 16u       /* u32 */
#define RFB_HDR_ABI_MAX 20u       /* u32 */
#define RFB_HDR_TOTAL 24u         /* u32 total size of the bundle */
#define RFB_HDR_NSECT 28u         /* u32 section count */
#define RFB_HDR_SECT_OFF 32u      /* u32 offset of the section table (128) */
#define RFB_HDR_RESERVED0 36u     /* u32, 0 */
#define RFB_HDR_SCHEMA_HASH 40u   /* 32 bytes: SHA-256 of the schema section payload */
#define RFB_HDR_CONTENT_VER 72u   /* 32 bytes: printable ASCII, NUL padded, not empty */
#define RFB_HDR_RESERVED1 104u    /* 24 bytes, 0 */
#define RFB_CONTENT_VER_MAX 31u

/* ---- section table entry: 16 bytes ---- */
#define RFB_SECT_ENTRY_SIZE 16u   /* u32 type, u32 offset, u32 length, u32 reserved (0) */

/* ---- section header: 16 bytes at the start of every section ---- */
#define RFB_SHDR_SIZE 16u         /* u32 type, u32 count, u32 elem_size, u32 payload length */

enum rfb_section_type {
	RFB_SEC_SCHEMA = 1,       /* count fields of 32 bytes (schema.h) */
	RFB_SEC_STRINGS = 2,      /* a byte blob; elem_size 1, count == length */
	RFB_SEC_REGEX = 3,        /* count records of 16 bytes */
	RFB_SEC_PRED = 4,         /* count records of 32 bytes */
	RFB_SEC_PROG = 5,         /* count instructions of 4 bytes */
	RFB_SEC_RULES = 6,        /* count records of 48 bytes */
	RFB_SEC_MAX
};

/* ---- string reference: u32 offset, u32 length into the string blob;
 * the byte at offset+length is NUL and none before it is. ---- */

/* ---- regex record: 16 bytes ---- */
#define RFB_REGEX_SIZE 16u        /* str_off u32, str_len u32, flags u32, reserved u32 */
#define RFB_RE_CASELESS 0x1u
#define RFB_RE_MULTILINE 0x2u
#define RFB_RE_DOTALL 0x4u
#define RFB_RE_FLAGS_ALL 0x7u

/* ---- predicate record: 32 bytes ---- */
#define RFB_PRED_SIZE 32u
/*  0 u16 field id
 *  2 u8  op (enum rfb_op)
 *  3 u8  flags (RFB_PF_*)
 *  4 u32 reserved (0)
 *  8 value, 24 bytes, by op (unused bytes 0):
 *      string ops: u32 str_off, u32 str_len
 *      RE:         u32 regex index
 *      INT ops:    i64
 *      CIDR:       u8 family (4 or 6), u8 prefix bits, u16 0, 16 bytes address
 *      NULL:       nothing
 */
enum rfb_op {
	RFB_OP_NULL = 1,          /* the field is absent or an empty string */
	RFB_OP_EQ = 2,            /* string equality */
	RFB_OP_CONTAINS = 3,
	RFB_OP_STARTSWITH = 4,
	RFB_OP_ENDSWITH = 5,
	RFB_OP_GLOB = 6,          /* '*' any run, '?' any byte, '\x' the byte x */
	RFB_OP_RE = 7,            /* PCRE2 search, regex table index */
	RFB_OP_INT_EQ = 8,
	RFB_OP_INT_LT = 9,
	RFB_OP_INT_LE = 10,
	RFB_OP_INT_GT = 11,
	RFB_OP_INT_GE = 12,
	RFB_OP_CIDR = 13,
	RFB_OP_MAX
};
#define RFB_PF_NOCASE 0x1u        /* string ops except RE: ASCII case-insensitive */
#define RFB_PF_ALL 0x1u

/* ---- program: u32 instructions, opcode in bits 24..31, argument in 0..23 ---- */
enum rfb_insn {
	RFB_I_END = 0,            /* the rule's result is the accumulator */
	RFB_I_PRED = 1,           /* acc = predicate[arg] */
	RFB_I_NOT = 2,            /* acc = !acc */
	RFB_I_JF = 3,             /* if !acc: pc = arg (relative to the rule's start, forward) */
	RFB_I_JT = 4,             /* if acc: pc = arg */
	RFB_I_MAX
};
#define RFB_INSN(op, arg) (((uint32_t)(op) << 24) | ((uint32_t)(arg) & 0xffffffu))
#define RFB_INSN_OP(i) ((i) >> 24)
#define RFB_INSN_ARG(i) ((i) & 0xffffffu)

/* ---- rule record: 48 bytes ---- */
#define RFB_RULE_SIZE 48u
/*  0 id (string ref)      8 title (string ref)   16 tags (string ref, comma separated, may be empty)
 * 24 u32 event mask (1 << enum rf_event_type)
 * 28 u32 flags (RFB_RULE_*)
 * 32 u8 level (enum rfb_level), 3 bytes 0
 * 36 u32 program offset (in instructions)   40 u32 program length   44 u32 reserved (0)
 */
#define RFB_RULE_BLOCKING 0x1u    /* enforce mode: a matching AUTH exec is denied */
#define RFB_RULE_FLAGS_ALL 0x1u

enum rfb_level {
	RFB_LEVEL_INFORMATIONAL = 0,
	RFB_LEVEL_LOW = 1,
	RFB_LEVEL_MEDIUM = 2,
	RFB_LEVEL_HIGH = 3,
	RFB_LEVEL_CRITICAL = 4,
	RFB_LEVEL_MAX
};

/* ---- limits: a loader refuses anything larger ---- */
#define RFB_MAX_SIZE (16u << 20)
#define RFB_MAX_SECTIONS 16u
#define RFB_MAX_FIELDS 256u
#define RFB_MAX_RULES 8192u
#define RFB_MAX_PREDS 65536u
#define RFB_MAX_PROG (1u << 20)          /* instructions in all */
#define RFB_MAX_RULE_PROG 4096u          /* instructions in one rule */
#define RFB_MAX_STRINGS (4u << 20)       /* string blob bytes */
#define RFB_MAX_STRING_LEN 4096u
#define RFB_MAX_REGEX 1024u
#define RFB_MAX_REGEX_LEN 1024u
#define RFB_MAX_GLOB_LEN 256u
#define RFB_MAX_TAGS_LEN 1024u

/* ---- little-endian byte access ---- */
static inline uint16_t rfb_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t rfb_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t rfb_get64(const uint8_t *p)
{
	return (uint64_t)rfb_get32(p) | ((uint64_t)rfb_get32(p + 4) << 32);
}
static inline void rfb_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void rfb_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void rfb_put64(uint8_t *p, uint64_t v)
{
	rfb_put32(p, (uint32_t)v);
	rfb_put32(p + 4, (uint32_t)(v >> 32));
}

/* Level names as Sigma and rf_emit_alert() spell them. */
static inline const char *rfb_level_name(unsigned level)
{
	static const char *const names[RFB_LEVEL_MAX] = { "informational", "low", "medium", "high",
							   "critical" };
	return level < RFB_LEVEL_MAX ? names[level] : "?";
}

static inline int rfb_level_from_name(const char *s)
{
	for (unsigned i = 0; i < RFB_LEVEL_MAX; i++)
		if (strcmp(s, rfb_level_name(i)) == 0)
			return (int)i;
	return -1;
}

#endif
