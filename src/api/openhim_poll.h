/*
 * openhim_poll.h — GET /openhim/poll/{schedule}: what an OpenHIM polling
 * channel's route calls on each tick (issue 15).
 */
#ifndef API_OPENHIM_POLL_H
#define API_OPENHIM_POLL_H

struct http_req;

void	openhim_poll_get(struct http_req *);

#endif
