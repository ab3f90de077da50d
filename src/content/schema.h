/*
 * schema.h - the engine field schema: the fields a detection rule can test.
 *
 * This table is the contract between content and engine.  A compiled
 * bundle carries the schema it was built for (and its SHA-256 in the
 * header); the loader refuses a bundle that declares a field this engine
 * does not have, with the same id, name and type.  That is the July 2024
 * lesson made mechanical: content built for 21 input fields is never run
 * by an engine that supplies 20.
 *
 * Rules:
 *   - ids are dense, 0..RFS_NFIELDS-1, and never reused or renumbered;
 *   - a new field is appended (a new engine can still load old bundles);
 *   - changing the meaning or type of a field means a new name and id.
 *
 * docs/CONTENT.md has the table with each field's source in rf_message.
 */
#ifndef RF_CONTENT_SCHEMA_H
#define RF_CONTENT_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

enum rfs_type {
	RFS_STRING = 1,
	RFS_INT = 2,    /* signed 64-bit */
	RFS_IP = 3,     /* IPv4 or IPv6 address */
};

enum rfs_field_id {
	RFF_IMAGE = 0,            /* exec: the new image; else the acting process's exe */
	RFF_COMMAND_LINE = 1,     /* argv joined with single spaces */
	RFF_CWD = 2,
	RFF_PID = 3,
	RFF_PPID = 4,
	RFF_UID = 5,
	RFF_EUID = 6,
	RFF_GID = 7,
	RFF_AUID = 8,             /* loginuid; 4294967295 when unset */
	RFF_COMM = 9,
	RFF_PARENT_IMAGE = 10,
	RFF_PARENT_COMMAND_LINE = 11, /* from the client's process cache */
	RFF_TARGET_PATH = 12,     /* file events; rename: the new name */
	RFF_SOURCE_PATH = 13,     /* rename: the old name */
	RFF_NET_INITIATED = 14,   /* 1: connect (outbound), 0: accept (inbound) */
	RFF_NET_SRC_IP = 15,
	RFF_NET_SRC_PORT = 16,
	RFF_NET_DST_IP = 17,
	RFF_NET_DST_PORT = 18,
	RFF_NET_PROTOCOL = 19,    /* "tcp" */
	RFS_NFIELDS = 20
};

/* Longest field name, without its NUL (the on-disk record has 28 bytes). */
#define RFS_NAME_MAX 27u

struct rfs_field {
	uint16_t id;
	uint8_t type;             /* enum rfs_type */
	const char *name;
};

/* This engine's schema: RFS_NFIELDS entries, entry i has id i. */
extern const struct rfs_field rfs_engine_schema[RFS_NFIELDS];

/* Size of one encoded schema record in a bundle. */
#define RFS_RECORD_SIZE 32u

/*
 * Encodes n fields as the bundle's schema section payload (n records of
 * RFS_RECORD_SIZE bytes: u16 id, u8 type, u8 name length, name NUL padded
 * to 28 bytes) into out, which holds n * RFS_RECORD_SIZE bytes.  Returns 0,
 * or -EINVAL when a field is malformed (id not its index, bad type or name).
 */
int rfs_encode(const struct rfs_field *fields, size_t n, uint8_t *out);

/* SHA-256 of an encoded schema (what the bundle header carries). */
void rfs_hash(const uint8_t *encoded, size_t len, uint8_t ret_hash[32]);

/* Name of a type ("string", "int", "ip"), or "?". */
const char *rfs_type_name(unsigned type);

#endif
