/*
 * admin_clients.h — the admin API's SMART client registrations
 * (issue 13; admin_api.h's conventions: bearer admin token, audit rows,
 * OperationOutcome errors).
 *
 *   GET    /admin/api/clients                 {"clients":[client]}
 *   GET    /admin/api/clients/{name}          client
 *   PUT    /admin/api/clients/{name}          201 created / 200 replaced
 *   POST   /admin/api/clients                 the same, name in the body
 *   POST   /admin/api/clients/{name}/disable  client
 *   POST   /admin/api/clients/{name}/enable   client
 *   DELETE /admin/api/clients/{name}          204
 *
 * The body of PUT/POST: {"jwks_url": URL} or {"jwks": {"keys":[...]}}
 * (exactly one; AUTH-R-02), "scope": e.g. "system/Patient.read" (auth/scope.h,
 * no "?" constraints), and "allow_write": true to register write scopes
 * (for $import): without it a scope granting c, u or d is refused, so
 * writing is always an explicit operator choice.  A JWKS URL must pass
 * jwks_url_ok (https, or http for a host in auth_jwks_allow); an inline
 * JWKS must hold at least one usable key.  A client: name, jwks_url,
 * jwks, scope, disabled, created, updated.  Audit action
 * "client.put|disable|enable|delete" on table auth_clients.
 */
#ifndef API_ADMIN_CLIENTS_H
#define API_ADMIN_CLIENTS_H

struct http_req;

void	admin_clients_list(struct http_req *);
void	admin_clients_get(struct http_req *);
void	admin_clients_put(struct http_req *);
void	admin_clients_disable(struct http_req *);
void	admin_clients_enable(struct http_req *);
void	admin_clients_delete(struct http_req *);

#endif
