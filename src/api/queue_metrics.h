/*
 * queue_metrics.h — the job queue's lines of GET /metrics (see
 * queue_metrics.c for the metric names), read from PostgreSQL at most
 * once a second per process.  Any MHD thread.
 */
#ifndef API_QUEUE_METRICS_H
#define API_QUEUE_METRICS_H

struct buf;

#define QUEUE_METRICS_MAX_TEXT	(256 * 1024)	/* the queue's part */

/* Appends the queue's metrics (fresh or at most a second old) to b.
 * 0, or -1 if b was full. */
int	queue_metrics_render(struct buf *b);
/* Frees the kept text; after the HTTP daemon stopped. */
/* With on, the read also counts OpenHIM deliveries (openhim_api_url set);
 * called once before serving. */
void	queue_metrics_openhim(int on);
void	queue_metrics_shutdown(void);

#endif
