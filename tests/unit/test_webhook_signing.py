"""Standard Webhooks signatures: a recipient verifies them with the `standardwebhooks` library."""

from __future__ import annotations

import base64
import json

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.delivery.signing import WebhookSecretInvalid, sign, webhook_headers

SECRET = "whsec_" + base64.b64encode(b"a-32-byte-key-for-the-waste-team").decode()
OLD = "whsec_" + base64.b64encode(b"the-previous-key-being-rotated-x").decode()


def body() -> bytes:
    return json.dumps({"delivery_id": "dlv_1", "data": {"postcode": "EX4 7QT"}}).encode()


def test_the_library_verifies_our_signature_now() -> None:
    import time

    headers = webhook_headers([SECRET], "dlv_1", int(time.time()), body())
    assert Webhook(SECRET).verify(body(), headers) == json.loads(body())


def test_each_secret_during_rotation_verifies_alone() -> None:
    import time

    headers = webhook_headers([SECRET, OLD], "dlv_1", int(time.time()), body())
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, OLD):
        Webhook(secret).verify(body(), headers)


def test_a_changed_body_id_or_wrong_secret_fails_verification() -> None:
    import time

    ts = int(time.time())
    headers = webhook_headers([SECRET], "dlv_1", ts, body())
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body() + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body(), {**headers, "webhook-id": "dlv_2"})
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(body(), headers)


def test_signature_is_the_spec_value() -> None:
    # Standard Webhooks' own example vector.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    payload = b'{"test": 2432232314}'
    assert sign(secret, msg_id, 1614265330, payload) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(WebhookSecretInvalid):
        sign("whsec_not base64!!", "dlv_1", 1, b"{}")
