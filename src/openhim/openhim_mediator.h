/*
 * openhim_mediator.h — Bulkhead as an OpenHIM mediator: registration and
 * heartbeat, driven by the scheduler leader.
 *
 * openhim_mediator_tick is called about once a second; it registers
 * (POST /mediators), then heartbeats (POST /mediators/:urn/heartbeat)
 * every OPENHIM_HEARTBEAT_S seconds, asking for the config on the first
 * heartbeat after (re)registration or after a failure.  When OpenHIM is
 * unreachable, refuses the credentials or answers an error, the next try
 * backs off 10, 20, 40, 60, 60 ... seconds, and one log line is written
 * per change of state, not per try.  Config that OpenHIM returns is
 * validated whole (openhim_cfg_parse): applied, or logged and ignored;
 * a pushed target named like one of the config file is stored but the
 * file's is used (openhim/delivery.h), which the log says.
 * Nothing here touches jobs: Bulkhead serves and runs jobs whatever
 * OpenHIM does.  Process: the scheduler leader only.
 */
#ifndef OPENHIM_MEDIATOR_H
#define OPENHIM_MEDIATOR_H

#include <libpq-fe.h>

#include "openhim/openhim_cfg.h"

#define OPENHIM_MEDIATOR_URN	"urn:mediator:bulkhead"
/* Semver of the registration document.  OpenHIM replaces a registered
 * mediator only for a greater version (core-js src/api/mediators.js
 * addMediator, semver.gt): bump it whenever the document changes. */
#define OPENHIM_MEDIATOR_VERSION	"1.0.0"
#define OPENHIM_HEARTBEAT_S	10
#define OPENHIM_BACKOFF_MAX_S	60

struct cfg;

enum openhim_state {
	OPENHIM_S_START,	/* nothing tried yet */
	OPENHIM_S_UP,		/* registered, heartbeats answered */
	OPENHIM_S_DOWN,		/* no HTTP answer */
	OPENHIM_S_REFUSED,	/* 401/403: credentials or rights */
	OPENHIM_S_ERROR		/* another HTTP status */
};

struct openhim_mediator {
	const struct cfg	*om_cfg;	/* borrowed */
	enum openhim_state	 om_state;	/* last logged */
	long			 om_status;	/* HTTP status of the last
						   failure, for the log */
	int			 om_registered;
	int			 om_want_config;
	int			 om_backoff;	/* seconds, 0 when up */
	double			 om_next;	/* monotonic s of next try */
	double			 om_started;	/* monotonic s, for uptime */
	struct openhim_cfg	 om_pushed;	/* last config applied */
	int			 om_have_pushed;
	int			 om_install;	/* install the default
						   channels after the next
						   heartbeat (once per
						   registration) */
};

/* Starts idle; no I/O. */
void	openhim_mediator_init(struct openhim_mediator *, const struct cfg *);
/* Does what is due at monotonic time now; never fails the caller.  A
 * pushed config's targets are stored through conn (deliveries.h). */
void	openhim_mediator_tick(struct openhim_mediator *, PGconn *conn,
	    double now);
void	openhim_mediator_free(struct openhim_mediator *);
/* The registration document (JSON text).  Caller frees with free(). */
char	*openhim_mediator_doc(const struct cfg *);
/*
 * Creates in OpenHIM the channels of defaultChannelConfig it does not
 * have yet: GET /channels, then POST /mediators/:urn/channels with the
 * missing names (core-js src/api/mediators.js loadDefaultChannels; a
 * name OpenHIM already has would fail the call, names being unique,
 * src/model/channels.js).  The mediator must be registered.  0 with a
 * one-line report ("installed 2: [...]", "all 2 already in OpenHIM"),
 * or -1 with the reason.  Blocking; the CLI ('bulkhead openhim
 * install-channels') and the scheduler leader (openhim_install_channels
 * = 1, once per registration).
 */
int	 openhim_mediator_install_channels(const struct cfg *, char *report,
	    size_t reportlen, char *errbuf, size_t errlen);

#endif
