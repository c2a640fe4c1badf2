import stat

import pytest

from americano_pipeline.api.tokens import InvalidToken, issue, load_secret, verify


def test_a_token_names_its_user_until_it_expires():
    token = issue(b"secret", "user_1", lifetime_seconds=60, now=1000)
    assert verify(b"secret", token, now=1059) == "user_1"
    with pytest.raises(InvalidToken, match="expired"):
        verify(b"secret", token, now=1060)


@pytest.mark.parametrize("token, reason", [
    ("", "not of the form"),
    ("abc", "not of the form"),
    ("abc.def", "signature does not match"),
])
def test_malformed_tokens_are_refused_saying_why(token, reason):
    with pytest.raises(InvalidToken, match=reason):
        verify(b"secret", token)


def test_a_token_signed_with_another_secret_or_altered_is_refused():
    token = issue(b"other", "user_1")
    with pytest.raises(InvalidToken, match="signature"):
        verify(b"secret", token)
    payload, signature = issue(b"secret", "user_1").split(".")
    with pytest.raises(InvalidToken, match="signature"):
        verify(b"secret", f"{payload}x.{signature}")


def test_the_secret_is_generated_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "api" / "secret"
    first = load_secret(path)
    assert len(first) == 64 and load_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_empty_user_gets_no_token():
    with pytest.raises(ValueError, match="must not be empty"):
        issue(b"secret", "")
