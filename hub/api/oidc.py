"""OpenID Connect sign-in (authorization code flow with PKCE) through Authlib's Starlette client:
the provider's discovery document, its JWKS, and an id token checked for signature, issuer,
audience, expiry and nonce before anyone is signed in."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse

from hub.api.signin import Person, person_from_claims
from hub.errors import HubError
from hub.settings import HubSettings

CALLBACK = "/dashboard/auth/callback"


class SignInFailed(HubError):
    code = "sign_in_failed"


class OidcClient:
    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        discovery = settings.oidc_discovery_url or (
            settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
        )
        secret = settings.oidc_client_secret
        # authlib only here: 0.13 s of every API start, and the laptop default has no provider
        from authlib.integrations.starlette_client import OAuth

        self.oauth = OAuth()
        self.oauth.register(
            name="hub",
            server_metadata_url=discovery,
            client_id=settings.oidc_client_id,
            client_secret=secret.get_secret_value() if secret is not None else None,
            client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"},
        )

    @property
    def client(self) -> Any:
        return self.oauth.create_client("hub")

    def redirect_url(self, request: Request) -> str:
        return self.settings.oidc_redirect_url or str(request.url_for("oidc_callback"))

    async def start(self, request: Request) -> RedirectResponse:
        try:
            response: RedirectResponse = await self.client.authorize_redirect(
                request, self.redirect_url(request)
            )
        except Exception as exc:  # the provider unreachable, or its discovery document broken
            raise SignInFailed(
                f"the identity provider could not be reached ({type(exc).__name__}): "
                "check HUB_OIDC_ISSUER and try again"
            ) from exc
        return response

    async def finish(self, request: Request) -> Person:
        if request.query_params.get("error"):
            why = request.query_params.get("error_description") or request.query_params["error"]
            raise SignInFailed(f"the identity provider refused the sign-in: {why}")
        from authlib.integrations.starlette_client import OAuthError

        try:
            token = await self.client.authorize_access_token(request)
        except OAuthError as exc:
            raise SignInFailed(f"sign-in failed: {exc.description or exc.error}") from exc
        except Exception as exc:  # a bad id token signature, issuer, audience, or nonce
            raise SignInFailed(f"sign-in failed: the id token was not valid ({exc})") from exc
        claims = token.get("userinfo") or {}
        return person_from_claims(
            claims, self.settings.oidc_roles_claim, self.settings.oidc_role_map
        )
