"""A small, real OpenID Connect provider for the tests, built on Authlib's server side
(`AuthorizationServer`, `AuthorizationCodeGrant`, the `OpenIDCode` and PKCE `CodeChallenge`
extensions): discovery document, JWKS, authorization code flow with PKCE (S256), nonce required,
client_secret_basic/post at the token endpoint, id token signed RS256.

Run on a free loopback port by `OidcProvider.start()` (uvicorn in a thread). The sign-in page
asks which test user to be (a form a browser fills in); `auto_user` skips it (httpx tests).
"""

from __future__ import annotations

import html
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hub.broker.embedded import free_port

KID = "t1"
SCOPES = ("openid", "email", "profile", "groups")
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


class Req(OAuth2Request):  # type: ignore[misc]
    """A Starlette request as Authlib's server sees it (query and form already read)."""

    def __init__(self, request: Request, form: dict[str, str]) -> None:
        super().__init__(method=request.method, uri=str(request.url), headers=request.headers)
        self._args = dict(request.query_params)
        self._form = form
        self.payload = BasicOAuth2Payload({**self._args, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # the hub under test, on any loopback port
        return redirect_uri.startswith("http://127.0.0.1:") and redirect_uri.endswith(
            "/dashboard/auth/callback"
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint != "token" or method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: dict[str, Any]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256, required of every client (Authlib requires it of public clients only):
    so the tests prove the hub sends a code challenge."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        if not grant.request.payload.data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256)")
        super().validate_code_challenge(grant, redirect_uri)


def authorization_server(provider: OidcProvider) -> AuthorizationServer:
    class Server(AuthorizationServer):  # type: ignore[misc]
        def query_client(self, client_id: str) -> Client | None:
            return provider.client if client_id == provider.client_id else None

        def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
            provider.tokens_issued += 1

        def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
            return request

        def create_json_request(self, request: Any) -> Any:
            return request

        def handle_response(self, status: int, body: Any, headers: Any) -> Response:
            if isinstance(body, dict):
                return JSONResponse(body, status, headers=dict(headers))
            return Response(body or "", status, headers=dict(headers))

        def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
            return None

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

        def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
            data = request.payload.data
            provider.codes[code] = Code(
                code=code,
                client_id=request.client.get_client_id(),
                redirect_uri=request.payload.redirect_uri,
                scope=request.payload.scope,
                user=request.user,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=int(time.time()),
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = provider.codes.get(code)
            return found if found and found.client_id == client.get_client_id() else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> dict[str, Any]:
            return authorization_code.user

    class OpenIdCode(OpenIDCode):  # type: ignore[misc]
        def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
            return any(c.nonce == nonce for c in provider.codes.values())

        def resolve_client_private_key(self, client: Client) -> RSAKey:
            return provider.key

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            return {"iss": provider.issuer, "aud": [client.get_client_id()]}

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256", "kid": KID}

        def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
            return UserInfo(user)

    server = Server(scopes_supported=list(SCOPES))
    server.register_grant(CodeGrant, [OpenIdCode(require_nonce=True), S256Only(required=True)])
    server.register_token_generator(
        "default", BearerTokenGenerator(lambda *_args, **_kw: secrets.token_urlsafe(24))
    )
    return server


@dataclass
class OidcProvider:
    client_id: str = "tell-it-once-hub"
    client_secret: str = field(default_factory=lambda: secrets.token_hex(24))
    port: int = field(default_factory=free_port)
    auto_user: str | None = None
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": KID}))
    codes: dict[str, Code] = field(default_factory=dict)
    tokens_issued: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http, tests only
        self.client = Client(self.client_id, self.client_secret)
        self.authorization = authorization_server(self)

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
                "scopes_supported": list(SCOPES),
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        form = await form_of(request) if request.method == "POST" else {}
        req = Req(request, form)
        try:
            grant = self.authorization.get_consent_grant(request=req, end_user=None)
        except OAuth2Error as exc:
            why = html.escape(f"{exc.error}: {exc.description or ''}")
            return HTMLResponse(f"<p>Refused: {why}</p>", 400)
        user = form.get("user") or self.auto_user
        if not user:
            options = "".join(f"<option>{u}</option>" for u in USERS)
            page = (
                '<!doctype html><html lang="en"><head><title>Council sign-in</title></head>'
                "<body><main><h1>Council sign-in</h1>"
                f'<form method="post" action="/authorize?{html.escape(urlencode(req.args))}">'
                f'<label for="user">Account</label><select id="user" name="user">{options}'
                '</select><button type="submit">Continue</button></form></main></body></html>'
            )
            return HTMLResponse(page)
        if user not in USERS:
            return HTMLResponse("unknown user", 400)
        response: Response = self.authorization.create_authorization_response(
            request=req, grant_user=USERS[user], grant=grant
        )
        return response

    async def token(self, request: Request) -> Response:
        response: Response = self.authorization.create_token_response(
            request=Req(request, await form_of(request))
        )
        return response

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
