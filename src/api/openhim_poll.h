/*
 * openhim_poll.h — what OpenHIM polling channels' routes call on each
 * tick (issue 15):
 *
 *   GET /openhim/poll/{schedule}          run the schedule once
 *   GET /openhim/poll/{schedule}/outputs  outputs of its jobs since a time
 */
#ifndef API_OPENHIM_POLL_H
#define API_OPENHIM_POLL_H

struct http_req;

void	openhim_poll_get(struct http_req *);
void	openhim_poll_outputs_get(struct http_req *);

#endif
