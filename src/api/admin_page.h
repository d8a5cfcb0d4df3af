/*
 * admin_page.h — the operator's console (GET /admin, /admin/,
 * /admin/{asset}): the HTML, CSS and JavaScript of web/admin/, compiled
 * into the binary (core/embed.h), served with their Content-Type, a
 * Content-Security-Policy that allows no inline script and nothing from
 * another origin, nosniff, and an ETag to revalidate against.  The page
 * holds no secret and needs no token; it talks to /admin/api only.
 */
#ifndef API_ADMIN_PAGE_H
#define API_ADMIN_PAGE_H

struct http_req;

/* GET /admin and /admin/: index.html.  libmicrohttpd threads. */
void	admin_page_index(struct http_req *);
/* GET /admin/{asset}: web/admin/<asset>, else 404. */
void	admin_page_asset(struct http_req *);

#endif
