"""OAuth against the wearable stand-in on loopback: the code exchange, refresh-token rotation persisted before use,
the encrypted token store on disk (no plain text, modes 0600/0700, atomic files), secrets kept out of logs,
exceptions and reprs, and the ENABLE_WEARABLES_SYNC switch."""

from __future__ import annotations

import logging
import stat
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest

from americano_pipeline import settings
from americano_pipeline.context import oura, whoop
from americano_pipeline.context.oauth import (
    OAuthError,
    Tokens,
    TokenSession,
    TokenStore,
    TokenStoreError,
    VendorConfig,
    exchange_code,
    refresh,
)
from tests.stand_in.wearables import CLIENT_ID, CLIENT_SECRET, WearableStandIn, authorize, running

USER = "participant-3"
REDIRECT = "http://127.0.0.1/wearables/callback"


@pytest.fixture
def stand_in():
    return WearableStandIn()


@pytest.fixture
def base_url(stand_in):
    with running(stand_in) as url:
        yield url


@pytest.fixture
def http():
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def store(tmp_path):
    return TokenStore(tmp_path / "wearables" / "tokens")


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_authorization_code_is_exchanged_once_for_tokens_that_expire_when_the_vendor_says(stand_in, base_url,
                                                                                               http):
    client = whoop.oauth_client(VendorConfig(base_url, CLIENT_ID, CLIENT_SECRET))
    code = stand_in.authorization_code("whoop", REDIRECT)

    tokens = exchange_code(client, code, REDIRECT, http=http)

    assert tokens.access_token.startswith("whoop-access-") and tokens.refresh_token.startswith("whoop-refresh-")
    remaining = tokens.expires_at - datetime.now(timezone.utc)
    assert timedelta(minutes=59) < remaining <= timedelta(hours=1)
    with pytest.raises(OAuthError, match=r"WHOOP token endpoint /oauth/oauth2/token: the authorization-code "
                                         r"exchange was refused with HTTP 400 \(invalid_grant\)"):
        exchange_code(client, code, REDIRECT, http=http)


def test_a_code_is_refused_for_another_redirect_uri(stand_in, base_url, http):
    client = oura.oauth_client(VendorConfig(base_url, CLIENT_ID, CLIENT_SECRET))
    code = stand_in.authorization_code("oura", REDIRECT)

    with pytest.raises(OAuthError, match=r"Oura token endpoint /oauth/token: .* HTTP 400 \(invalid_grant\)"):
        exchange_code(client, code, "http://127.0.0.1/elsewhere", http=http)


def test_a_wrong_client_secret_is_reported_as_such_without_showing_it(stand_in, base_url, http):
    client = oura.oauth_client(VendorConfig(base_url, CLIENT_ID, "not-the-secret-31f"))

    with pytest.raises(OAuthError, match=r"HTTP 401 \(invalid_client\); check this deployment's client id and "
                                         r"secret") as raised:
        exchange_code(client, stand_in.authorization_code("oura", REDIRECT), REDIRECT, http=http)
    assert "not-the-secret-31f" not in str(raised.value)


def test_a_refresh_rotates_the_refresh_token_and_retires_the_old_one(stand_in, base_url, http, store):
    client = whoop.oauth_client(VendorConfig(base_url, CLIENT_ID, CLIENT_SECRET))
    first = authorize(stand_in, client, store, USER, http)

    second = refresh(client, first.refresh_token, http=http)

    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    assert stand_in.token_requests[-1] == {"grant_type": "refresh_token", "scope": "offline"}
    assert stand_in.refresh_token_valid("whoop", second.refresh_token)
    assert not stand_in.refresh_token_valid("whoop", first.refresh_token)
    with pytest.raises(OAuthError, match=r"the refresh was refused with HTTP 400 \(invalid_grant\); the user must "
                                         r"authorize again"):
        refresh(client, first.refresh_token, http=http)


def test_a_session_refreshes_an_expiring_token_and_stores_the_new_pair_before_handing_it_out(stand_in, base_url,
                                                                                             http, store):
    client = oura.oauth_client(VendorConfig(base_url, CLIENT_ID, CLIENT_SECRET))
    old = authorize(stand_in, client, store, USER, http)
    store.save(USER, "Oura", replace(old, expires_at=datetime.now(timezone.utc) + timedelta(seconds=30)))
    session = TokenSession(USER, client, store, http)

    header = session.header()

    stored = store.load(USER, "Oura")
    assert header == {"Authorization": f"Bearer {stored.access_token}"}
    assert stored.refresh_token != old.refresh_token and stand_in.refresh_token_valid("oura", stored.refresh_token)
    assert session.refreshes == 1
    assert session.header() == header  # valid now: no second refresh
    assert session.refreshes == 1


def test_the_token_file_is_encrypted_private_and_replaced_whole(tmp_path):
    directory = tmp_path / "data" / "wearables" / "tokens"
    store = TokenStore(directory)
    tokens = _tokens("access-9f8e7d6c5b4a", "refresh-0a1b2c3d4e5f")

    store.save(USER, "WHOOP", tokens)
    store.save(USER, "WHOOP", tokens)

    path = store.path(USER, "WHOOP")
    assert sorted(p.name for p in directory.iterdir()) == ["fernet.key", path.name]  # no temporary files left
    blob = path.read_bytes()
    assert b"access-9f8e7d6c5b4a" not in blob and b"refresh-0a1b2c3d4e5f" not in blob and b"expires_at" not in blob
    assert _mode(path) == 0o600 and _mode(directory) == 0o700 and _mode(store.key_path) == 0o600
    assert TokenStore(directory).load(USER, "WHOOP") == tokens  # a new store reads the same key
    assert TokenStore(directory).load(USER, "Oura") is None


def test_the_key_can_live_apart_from_the_tokens(tmp_path):
    store = TokenStore(tmp_path / "tokens", key_path=tmp_path / "keys" / "wearables.key")

    store.save(USER, "Oura", _tokens("a" * 20, "r" * 20))

    assert [p.name for p in (tmp_path / "tokens").iterdir()] == [store.path(USER, "Oura").name]
    assert _mode(tmp_path / "keys") == 0o700 and _mode(tmp_path / "keys" / "wearables.key") == 0o600


def test_a_user_id_cannot_name_a_file_outside_the_store(tmp_path):
    store = TokenStore(tmp_path / "tokens")

    for user_id in ("../../etc/passwd", "..", "a/b"):
        assert store.path(user_id, "Oura").parent == tmp_path / "tokens"


def test_tokens_under_a_replaced_key_are_refused_naming_the_files_not_the_tokens(tmp_path):
    store = TokenStore(tmp_path / "tokens")
    store.save(USER, "Oura", _tokens("access-secret-1", "refresh-secret-1"))
    store.key_path.unlink()

    with pytest.raises(TokenStoreError) as raised:
        TokenStore(tmp_path / "tokens").load(USER, "Oura")

    message = str(raised.value)
    assert str(store.path(USER, "Oura")) in message and str(store.key_path) in message
    assert "must be authorized again" in message and "secret-1" not in message


def test_a_key_file_others_can_read_is_refused(tmp_path):
    store = TokenStore(tmp_path / "tokens")
    store.save(USER, "Oura", _tokens("a" * 20, "r" * 20))
    store.key_path.chmod(0o644)

    with pytest.raises(TokenStoreError, match=r"fernet.key has mode 0644; it must be readable by its owner only"):
        TokenStore(tmp_path / "tokens").load(USER, "Oura")


def test_a_session_without_stored_tokens_says_who_must_authorize(base_url, http, store):
    session = TokenSession(USER, oura.oauth_client(VendorConfig(base_url, CLIENT_ID, CLIENT_SECRET)), store, http)

    with pytest.raises(OAuthError, match=r"no Oura tokens are stored for user 'participant-3' in .*tokens: the user "
                                         r"must authorize first"):
        session.header()


def test_secrets_stay_out_of_logs_exceptions_and_reprs(stand_in, base_url, http, store, caplog):
    """A sync whose access token expired and whose refresh token was already spent elsewhere: the refresh fails.
    Neither the client secret nor any token issued, nor the authorization code, shows in what is logged or raised."""
    caplog.set_level(logging.DEBUG)
    config = VendorConfig(base_url, CLIENT_ID, CLIENT_SECRET)
    client = whoop.oauth_client(config)
    code = stand_in.authorization_code("whoop", REDIRECT)
    stored = exchange_code(client, code, REDIRECT, http=http)
    store.save(USER, "WHOOP", stored)
    spent = refresh(client, stored.refresh_token, http=http)  # rotates on the server, not in the store
    stand_in.expire_access_tokens()

    with pytest.raises(OAuthError) as failed_sync:
        whoop.fetch_days(USER, date(2024, 3, 1), date(2024, 3, 5), config=config, token_store=store)
    with pytest.raises(OAuthError) as failed_exchange:
        exchange_code(client, code, REDIRECT, http=http)

    assert "invalid_grant" in str(failed_sync.value) and "authorize again" in str(failed_sync.value)
    secrets = [CLIENT_SECRET, code, stored.access_token, stored.refresh_token, spent.access_token, spent.refresh_token]
    shown = [caplog.text, *(f"{exc!s} {exc!r} {exc.__cause__!r} {exc.__context__!r}"
                            for exc in (failed_sync.value, failed_exchange.value)),
             repr(stored), str(stored), repr(config), repr(client), repr(TokenSession(USER, client, store, http)),
             repr(store)]
    assert "refreshing the access token" in caplog.text  # the 401 was logged, without its header
    for secret in secrets:
        assert all(secret not in text for text in shown), f"a secret leaked: {secret[:8]}..."


def test_consent_urls_carry_client_redirect_scopes_and_state_but_no_secret():
    config = VendorConfig("https://api.prod.whoop.com", "client-1", "secret-1")

    url = httpx.URL(whoop.consent_url(config, REDIRECT, "state-123"))
    oura_url = httpx.URL(oura.consent_url(config, REDIRECT, "state-456"))

    assert str(url).startswith("https://api.prod.whoop.com/oauth/oauth2/auth?")
    assert dict(url.params) == {"response_type": "code", "client_id": "client-1", "redirect_uri": REDIRECT,
                                "scope": "read:cycles read:recovery read:sleep offline", "state": "state-123"}
    assert str(oura_url).startswith("https://cloud.ouraring.com/oauth/authorize?")
    assert oura_url.params["scope"] == "daily" and "secret-1" not in str(url) + str(oura_url)


@pytest.mark.parametrize("value, enabled", [("true", True), ("1", True), ("TRUE", True), (" True ", True),
                                            ("false", False), ("0", False), ("yes", False), ("on", False),
                                            ("", False), (None, False)])
def test_wearables_sync_is_on_only_for_true_or_1(value, enabled):
    environ = {} if value is None else {"ENABLE_WEARABLES_SYNC": value}

    assert settings.wearables_sync_enabled(environ) is enabled


def _tokens(access: str, refresh_token: str) -> Tokens:
    return Tokens(access, refresh_token, datetime(2030, 1, 1, tzinfo=timezone.utc), "offline")
