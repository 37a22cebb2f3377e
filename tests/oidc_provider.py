"""A small, real OpenID Connect provider for the tests: discovery document, JWKS, authorization
code flow with PKCE (S256 only), client_secret_basic/post at the token endpoint, and an id token
signed RS256 (joserfc, Authlib's JOSE library; PKCE from Authlib's RFC 7636 module).

Run on a free loopback port by `OidcProvider.start()` (uvicorn in a thread). The sign-in page
asks which test user to be (a form a browser fills in); `auto_user` skips it (httpx tests).
"""

from __future__ import annotations

import base64
import html
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hub.broker.embedded import free_port

USERS: dict[str, dict[str, Any]] = {
    "ig.officer": {
        "sub": "a1b2c3-ig-officer",
        "name": "Priya Shah",
        "email": "priya.shah@council.example",
        "groups": ["staff", "hub-ig"],
    },
    "no.role": {
        "sub": "d4e5f6-no-role",
        "name": "Sam Other",
        "email": "sam.other@council.example",
        "groups": ["staff"],
    },
}


async def form_of(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode()))


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    user: str
    nonce: str | None
    challenge: str
    scope: str
    expires: float


@dataclass
class OidcProvider:
    client_id: str = "tell-it-once-hub"
    client_secret: str = field(default_factory=lambda: secrets.token_hex(24))
    port: int = field(default_factory=free_port)
    auto_user: str | None = None
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "t1"}))
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens_issued: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hub_env(self) -> dict[str, str]:
        return {
            "HUB_OIDC_ISSUER": self.issuer,
            "HUB_OIDC_CLIENT_ID": self.client_id,
            "HUB_OIDC_CLIENT_SECRET": self.client_secret,
            "HUB_OIDC_ROLE_MAP": '{"hub-ig": ["ig"]}',
        }

    # -- endpoints ---------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        i = self.issuer
        return JSONResponse(
            {
                "issuer": i,
                "authorization_endpoint": f"{i}/authorize",
                "token_endpoint": f"{i}/token",
                "jwks_uri": f"{i}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "scopes_supported": ["openid", "email", "profile"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        p = dict(request.query_params) if request.method == "GET" else await form_of(request)
        if p.get("client_id") != self.client_id:
            return HTMLResponse("unknown client", 400)
        if p.get("response_type") != "code" or "openid" not in p.get("scope", "").split():
            return HTMLResponse("only the code flow with scope openid", 400)
        if p.get("code_challenge_method") != "S256" or not p.get("code_challenge"):
            return HTMLResponse("PKCE with S256 is required", 400)
        user = p.get("user") or self.auto_user
        if not user:
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in p.items()
            )
            options = "".join(f"<option>{u}</option>" for u in USERS)
            page = (
                '<!doctype html><html lang="en"><head><title>Council sign-in</title></head>'
                "<body><main><h1>Council sign-in</h1>"
                f'<form method="post" action="/authorize">{hidden}'
                f'<label for="user">Account</label><select id="user" name="user">{options}'
                '</select><button type="submit">Continue</button></form></main></body></html>'
            )
            return HTMLResponse(page)
        if user not in USERS:
            return HTMLResponse("unknown user", 400)
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            client_id=p["client_id"],
            redirect_uri=p["redirect_uri"],
            user=user,
            nonce=p.get("nonce"),
            challenge=p["code_challenge"],
            scope=p.get("scope", ""),
            expires=time.time() + 60,
        )
        query = urlencode({"code": code, "state": p.get("state", "")})
        return RedirectResponse(f"{p['redirect_uri']}?{query}", status_code=302)

    def _client_ok(self, request: Request, form: dict[str, Any]) -> bool:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            cid, secret = form.get("client_id", ""), form.get("client_secret", "")
        return bool(cid == self.client_id and secrets.compare_digest(secret, self.client_secret))

    async def token(self, request: Request) -> Response:
        form = await form_of(request)
        if not self._client_ok(request, form):
            return JSONResponse({"error": "invalid_client"}, 401)
        grant = self.grants.pop(str(form.get("code", "")), None)
        if grant is None or grant.expires < time.time():
            return JSONResponse({"error": "invalid_grant"}, 400)
        if form.get("redirect_uri") != grant.redirect_uri:
            return JSONResponse({"error": "invalid_grant", "error_description": "redirect"}, 400)
        verifier = str(form.get("code_verifier", ""))
        if not verifier or create_s256_code_challenge(verifier) != grant.challenge:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        now = int(time.time())
        claims = {
            **USERS[grant.user],
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        id_token = jwt.encode({"alg": "RS256", "kid": "t1"}, claims, self.key)
        self.tokens_issued += 1
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
                "scope": grant.scope,
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize, methods=["GET", "POST"]),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> OidcProvider:
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test OIDC provider did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
