/* cmd_device: samen init, id, unlock, lock, status and metrics: this device's identity, keys and daemon. */
#include "cmd_device.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client.h"
#include "devid.h"
#include "error.h"
#include "keyfile.h"
#include "keywrap.h"
#include "output.h"
#include "output_sync.h"
#include "passphrase.h"
#include "util.h"
#include "version.h"

/* init and id need no daemon: they read and write the key file. */

int
cmd_device_init(struct cmd_ctx *c)
{
	struct keywrap_secrets sec;
	struct passphrase pass;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t salt[16], nonce[24];
	uint8_t *file = NULL;
	size_t filelen;
	char devid[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	int rc;

	if (c->no_passphrase && c->passphrase_file != NULL)
		return cmd_complain(CMD_EXIT_USAGE, "--no-passphrase and "
		    "--passphrase-file exclude each other");
	/* A data directory without room for the socket is of no use. */
	if ((rc = client_check_path(c->dir, &cause)) != 0)
		return cmd_failed(-EINVAL, cause);
	if ((rc = keyfile_exists(c->dir, &cause)) < 0)
		return cmd_failed(rc, cause);
	if (rc == 1)
		return cmd_complain(CMD_EXIT_FAIL, "%s already holds a device "
		    "identity (%s/%s); not overwriting it", c->dir, c->dir,
		    KEYFILE_NAME);

	memset(&pass, 0, sizeof(pass));
	if (!c->no_passphrase && (rc = passphrase_get(&pass,
	    c->passphrase_file, c->dir, 1, &cause)) != 0) {
		passphrase_wipe(&pass);
		return cmd_failed(rc, cause);
	}
	if ((rc = keyfile_make_dir(c->dir, &cause)) != 0) {
		passphrase_wipe(&pass);
		return cmd_failed(rc, cause);
	}

	crypto_sign_keypair(pk, sec.sign_sk);
	randombytes_buf(sec.storage_key, sizeof(sec.storage_key));
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	rc = keywrap_seal(&file, &filelen, &sec,
	    c->no_passphrase ? NULL : pass.buf, pass.len, salt, nonce);
	sodium_memzero(&sec, sizeof(sec));
	passphrase_wipe(&pass);
	if (rc != 0)
		return cmd_complain(CMD_EXIT_FAIL, "cannot wrap the keys: %s",
		    samen_strerror(rc));
	rc = keyfile_write(c->dir, file, filelen, &cause);
	free(file);
	if (rc != 0)
		return cmd_failed(rc, cause);
	devid_encode(devid, pk);
	output_device(stdout, devid, c->json);
	return 0;
}

int
cmd_device_id(struct cmd_ctx *c)
{
	struct keywrap_info info;
	uint8_t *file;
	size_t len;
	char devid[DEVID_TEXTLEN + 1];
	int rc;

	if ((rc = keyfile_read(c->dir, &file, &len)) == -ENOENT)
		return cmd_complain(CMD_EXIT_FAIL, "no device identity in %s: "
		    "run samen init", c->dir);
	if (rc == 0) {
		rc = keywrap_info(&info, file, len);
		free(file);
	}
	if (rc != 0)
		return cmd_complain(CMD_EXIT_FAIL, "%s/%s: %s", c->dir,
		    KEYFILE_NAME, samen_strerror(rc));
	devid_encode(devid, info.public_key);
	output_device(stdout, devid, c->json);
	return 0;
}

/* unlock and status ask the daemon. */

int
cmd_device_unlock(struct cmd_ctx *c)
{
	struct keywrap_info info;
	struct passphrase pass;
	struct wbuf w;
	struct reply rp;
	uint8_t *file;
	size_t len;
	char *cause = NULL;
	int rc, nopass = 0;

	/*
	 * Keys stored without a passphrase need none: don't ask for one.
	 * Whatever goes wrong reading the file, the daemon will say better.
	 */
	if (c->passphrase_file == NULL &&
	    keyfile_read(c->dir, &file, &len) == 0) {
		nopass = keywrap_info(&info, file, len) == 0 &&
		    info.kdf == KEYWRAP_KDF_NONE;
		free(file);
	}
	/* Nobody should type a passphrase for a daemon that isn't there. */
	if ((rc = client_probe(c->dir, &cause)) != 0) {
		cmd_complain(0, "%s", cause);
		free(cause);
		return cmd_exit_for_client(rc);
	}
	memset(&pass, 0, sizeof(pass));
	if (!nopass && (rc = passphrase_get(&pass, c->passphrase_file,
	    c->dir, 0, &cause)) != 0) {
		passphrase_wipe(&pass);
		return cmd_failed(rc, cause);
	}
	cmd_request(&w, CTL_UNLOCK, 1);
	wire_put_str(&w, pass.buf, pass.len);
	passphrase_wipe(&pass);
	if ((rc = cmd_call(c, &w, &rp)) != 0)
		return rc;
	if (c->json)
		output_json(stdout, rp.body);
	else
		output_unlock(stdout, rp.body, rp.message);
	reply_free(&rp);
	return 0;
}

int
cmd_device_lock(struct cmd_ctx *c)
{
	struct wbuf w;
	struct reply rp;
	int rc;

	cmd_request(&w, CTL_LOCK, 0);
	if ((rc = cmd_call(c, &w, &rp)) != 0)
		return rc;
	if (c->json)
		output_json(stdout, rp.body);
	else
		output_lock(stdout, rp.body, rp.message);
	reply_free(&rp);
	return 0;
}

int
cmd_device_status(struct cmd_ctx *c)
{
	struct wbuf w;
	struct reply rp;
	int rc;

	cmd_request(&w, CTL_STATUS, 0);
	if ((rc = cmd_call(c, &w, &rp)) != 0)
		return rc;
	if (c->json) {
		output_json(stdout, rp.body);
		output_sync_status_warning(stderr, rp.body);
	} else
		output_sync_status(stdout, stderr, rp.body);
	(void)output_sync_status_version(stderr, rp.body, SAMEN_VERSION,
	    SAMEN_PROTOCOL_VERSION, SAMEN_SCHEMA_VERSION);
	reply_free(&rp);
	return 0;
}

int
cmd_device_metrics(struct cmd_ctx *c)
{
	struct wbuf w;

	cmd_request(&w, CTL_METRICS, 0);
	return cmd_run(c, &w, output_metrics);
}
