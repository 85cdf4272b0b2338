/* protocol: every message samen speaks, its version, and its changelog. */
#ifndef SAMEN_PROTOCOL_H
#define SAMEN_PROTOCOL_H

/*
 * Changelog (codes are only ever appended; a version mismatch gets a clear
 * reply and a close):
 *   1  2026-11  control protocol: status, unlock, put, get, ls, find, rm,
 *               log, conflicts, note, rebuild; peers, sync and circles
 *               (types 12-19; put takes an optional fourth argument);
 *               export and import (31, 32); audit (30).
 */
#define SAMEN_PROTOCOL_VERSION 1

/*
 * Control messages: the CLI and its daemon over ZeroMQ ipc://DIR/ctl.sock
 * (REQ -> ROUTER), one frame each way.
 *   request = [version u32, type u32, args array]
 *   reply   = [code int, message str, body]
 * code is 0 or a negative SAMEN_E* / -errno (error.h); message is a one-line
 * reason for a person ("" on success); body is the result (see docs/api.md
 * and the CLI's --json, which prints it as JSON).  An unknown version gets
 * SAMEN_EVERSION with the daemon's version in the message.
 */
#define CTL_MAX_REQUEST (1u << 20)
#define CTL_MAX_REPLY (64u << 20)
#define CTL_SOCKET "ctl.sock"

enum ctl_type {
	/* 1-99: control requests. */
	CTL_STATUS = 1,		/* args [] */
	CTL_UNLOCK = 2,		/* args [passphrase str] */
	CTL_PUT = 3,		/* args [collection, rid str | nil, assigns]
				 * or the same + [circle name str | nil] */
	CTL_GET = 4,		/* args [collection, rid] */
	CTL_LS = 5,		/* args [collection, where] */
	CTL_FIND = 6,		/* args [text] */
	CTL_RM = 7,		/* args [collection, rid] */
	CTL_LOG = 8,		/* args [collection, rid] */
	CTL_CONFLICTS = 9,	/* args [] */
	CTL_NOTE = 10,		/* args [case rid, text] */
	CTL_REBUILD = 11,	/* args [] */
	CTL_PEER_ADD = 12,	/* args [device str, addr str | nil] */
	CTL_PEER_LS = 13,	/* args [] */
	CTL_PEER_RM = 14,	/* args [device str] */
	CTL_SYNC = 15,		/* args [device str | nil] */
	CTL_CIRCLE_NEW = 16,	/* args [name str] */
	CTL_CIRCLE_ADD = 17,	/* args [name str, device str] */
	CTL_CIRCLE_LS = 18,	/* args [] */
	CTL_CIRCLE_USE = 19,	/* args [name str] */
	/*
	 * 20-: the trust lifecycle, erasure, audit and operations.  Reserved
	 * here together so that work on them in parallel cannot collide; a
	 * code not built yet is answered "unknown request type".
	 */
	CTL_METRICS = 20,	/* args [] */
	CTL_LOCK = 21,		/* args [] */
	CTL_HANDOVER = 22,	/* args [from str, to str, circle str | nil] */
	CTL_CIRCLE_ROLE = 23,	/* args [name str, device str, role str] */
	CTL_CIRCLE_RM = 24,	/* args [name str, device str] */
	CTL_CIRCLE_QUARANTINE = 25,	/* args [name str] */
	CTL_CIRCLE_ACCEPT = 26,	/* args [name str, device str, seq u64 | nil] */
	CTL_DEVICE_REVOKE = 27,	/* args [device str, reason str | nil] */
	CTL_PURGE = 28,		/* args [collection, rid, cascade bool,
				 * reason str] */
	CTL_CIRCLE_RETENTION = 29,	/* args [name str, collection str,
				 * days u64] or [name str] (what is due) */
	CTL_AUDIT = 30,		/* args [collection str | nil,
				 *  rid str | nil, device str | nil,
				 *  since ms u64 | nil] */
	CTL_EXPORT = 31,	/* args [collection str | nil, circle str | nil,
				 *  subject rid str | nil, after str | nil,
				 *  limit u32, history bool] */
	CTL_IMPORT = 32,	/* args [collection str, circle str | nil,
				 *  dry_run bool, rows] */
};

/*
 * assigns = array of [how u8, field str, value str], how one of these;
 * where = array of [field str, value str] (all must match exactly).
 */
enum ctl_assign {
	CTL_ASSIGN_SET = 0,	/* field=value */
	CTL_ASSIGN_ADD = 1,	/* field+=element */
	CTL_ASSIGN_REM = 2,	/* field-=element */
};

#define CTL_MAX_ASSIGNS 256

/*
 * export: one page of at most limit (1 to CTL_EXPORT_MAX_LIMIT) records
 * after the cursor "after" (nil: from the first), which is the "next" of
 * the page before: an opaque string of at most CTL_EXPORT_CURSOR bytes.
 * The daemon may send fewer records than limit (it keeps a page's body
 * near a few MiB); "next" is nil on the last page.
 * import: rows = array of 1 to CTL_IMPORT_MAX_ROWS rows, each a new
 * record: an array of 1 to CTL_MAX_ASSIGNS assigns, SET or ADD only.
 */
#define CTL_EXPORT_MAX_LIMIT 10000
#define CTL_EXPORT_CURSOR 48
#define CTL_IMPORT_MAX_ROWS 10000

#endif
