/*
 * schema.c - the engine field schema table and its encoding (schema.h).
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "content/schema.h"

const struct rfs_field rfs_engine_schema[RFS_NFIELDS] = {
	{ RFF_IMAGE, RFS_STRING, "process.image" },
	{ RFF_COMMAND_LINE, RFS_STRING, "process.command_line" },
	{ RFF_CWD, RFS_STRING, "process.cwd" },
	{ RFF_PID, RFS_INT, "process.pid" },
	{ RFF_PPID, RFS_INT, "process.ppid" },
	{ RFF_UID, RFS_INT, "process.uid" },
	{ RFF_EUID, RFS_INT, "process.euid" },
	{ RFF_GID, RFS_INT, "process.gid" },
	{ RFF_AUID, RFS_INT, "process.auid" },
	{ RFF_COMM, RFS_STRING, "process.comm" },
	{ RFF_PARENT_IMAGE, RFS_STRING, "parent.image" },
	{ RFF_PARENT_COMMAND_LINE, RFS_STRING, "parent.command_line" },
	{ RFF_TARGET_PATH, RFS_STRING, "file.target_path" },
	{ RFF_SOURCE_PATH, RFS_STRING, "file.source_path" },
	{ RFF_NET_INITIATED, RFS_INT, "net.initiated" },
	{ RFF_NET_SRC_IP, RFS_IP, "net.source_ip" },
	{ RFF_NET_SRC_PORT, RFS_INT, "net.source_port" },
	{ RFF_NET_DST_IP, RFS_IP, "net.destination_ip" },
	{ RFF_NET_DST_PORT, RFS_INT, "net.destination_port" },
	{ RFF_NET_PROTOCOL, RFS_STRING, "net.protocol" },
};

static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > RFS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '.'))
			return 0;
	return 1;
}

int rfs_encode(const struct rfs_field *fields, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct rfs_field *f = &fields[i];
		if (f->id != i || f->type < RFS_STRING || f->type > RFS_IP || !name_ok(f->name))
			return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t *r = out + i * RFS_RECORD_SIZE;
		size_t len = strlen(fields[i].name);
		memset(r, 0, RFS_RECORD_SIZE);
		r[0] = (uint8_t)(fields[i].id & 0xff);
		r[1] = (uint8_t)(fields[i].id >> 8);
		r[2] = fields[i].type;
		r[3] = (uint8_t)len;
		memcpy(r + 4, fields[i].name, len);
	}
	return 0;
}

void rfs_hash(const uint8_t *encoded, size_t len, uint8_t ret_hash[32])
{
	crypto_hash_sha256(ret_hash, encoded, len);
}

const char *rfs_type_name(unsigned type)
{
	switch (type) {
	case RFS_STRING: return "string";
	case RFS_INT: return "int";
	case RFS_IP: return "ip";
	default: return "?";
	}
}
