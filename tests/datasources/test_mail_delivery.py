"""The SMTP URL forms of `LEERPOORT_SMTP_URL` and the queue's retry waits."""

from __future__ import annotations

import datetime as dt

import pytest

from datasources.access.mail_delivery import SmtpUrlError, smtp_server
from datasources.access.mail_queue import retry_delay


def test_a_plain_url_names_host_and_port() -> None:
    server = smtp_server("smtp://mail.example:2525")
    assert (server.host, server.port, server.starttls, server.implicit_tls) == (
        "mail.example",
        2525,
        False,
        False,
    )
    assert server.username is None
    assert smtp_server("smtp://mail.example").port == 25


def test_credentials_and_starttls_are_read_and_never_shown() -> None:
    server = smtp_server("smtp://juf%40school.example:ge%3Aheim@mail.example:587?starttls=true")
    assert (server.username, server.password, server.starttls) == ("juf@school.example", "ge:heim", True)
    assert "heim" not in server.shown()


def test_smtps_is_tls_from_the_start_on_port_465() -> None:
    server = smtp_server("smtps://u:p@mail.example")
    assert (server.port, server.implicit_tls, server.starttls) == (465, True, False)


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtp://mail.example:port"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(SmtpUrlError):
        smtp_server(url)


def test_retries_wait_longer_each_time_up_to_two_hours() -> None:
    assert retry_delay(1) == dt.timedelta(seconds=30)
    assert retry_delay(2) == dt.timedelta(minutes=1)
    assert retry_delay(20) == dt.timedelta(hours=2)
