"""A plain-http master costs no CA bundle; an https one (or a proxy) is verified as usual."""

from __future__ import annotations

import ssl

import pytest

from cloudai.cli import client


def test_plain_http_gets_a_context_that_trusts_no_ca() -> None:
    context = client._tls("http://127.0.0.1:8080")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0  # TLS, were it used, fails closed


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_a_proxy_keeps_the_usual_verification(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in client._PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, "https://proxy.example:3128")
    assert client._tls("http://127.0.0.1:8080") is True


def test_https_is_verified_as_usual() -> None:
    assert client._tls("https://cloudai.example") is True


def test_a_client_for_a_plain_http_master_still_talks() -> None:
    with (
        client.Client("http://127.0.0.1:9", timeout=1) as api,
        pytest.raises(client.ApiError) as failed,
    ):
        api.me()
    assert failed.value.status == 0 and "cannot reach the master" in str(failed.value)
