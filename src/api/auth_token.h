/*
 * auth_token.h — the SMART Backend Services authorization server side
 * (SPEC §2): the token endpoint and the discovery document.  Both answer
 * 404 (OperationOutcome) when auth = none.
 *
 * POST /auth/token (AUTH-T-03..05, AUTH-V-01..06, AUTH-E-01..04, AUTH-A-01..03)
 *   application/x-www-form-urlencoded only, at most FORM_MAX_BODY bytes;
 *   grant_type=client_credentials, client_assertion_type jwt-bearer,
 *   client_assertion (RS384/ES384, kid, typ JWT, jku only if it is the
 *   registered URL), scope.  The assertion's iss = sub = a registered,
 *   enabled client; aud = the token URL (auth/token.h) exactly; exp at
 *   most 300 s ahead; its jti recorded (a replay is refused).
 *   200 {"access_token","token_type":"bearer","expires_in":300,"scope"}
 *   with the granted scope = requested ∩ registered (auth/scope.h).
 *   Errors: RFC 6749 JSON {"error","error_description"}: 401 for
 *   invalid_client, 400 for the rest; never 500 for bad input; an
 *   invalid_client to a request with an Authorization header also has
 *   WWW-Authenticate in that header's scheme (RFC 6749 §5.2).  Every
 *   answer has Cache-Control: no-store and Pragma: no-cache.  Nothing
 *   logged holds the assertion or the token.
 *
 * GET /fhir/.well-known/smart-configuration (AUTH-D-01..04)
 *   application/json whatever Accept says.
 *
 * libmicrohttpd threads; the thread's database connection.
 */
#ifndef API_AUTH_TOKEN_H
#define API_AUTH_TOKEN_H

struct http_req;

void	auth_token_post(struct http_req *);
void	auth_token_discovery(struct http_req *);

#endif
