"""The hub's mail to school staff: Dutch first, English alongside, as plain text and as HTML.

Every message carries one link and a hint to look in the spam folder (a first message from an unknown
sender often lands there). Names and addresses in the HTML part are escaped: they come from a school's
file and must never become markup.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
from email.message import EmailMessage
from typing import Final

_SPAM_HINT: Final = (
    "Geen mail van ons verwacht, of staat deze mail in uw map met ongewenste e-mail (spam)? Markeer hem dan"
    " als veilig, zodat volgende berichten in uw inbox komen.",
    "Not expecting mail from us, or did this message land in your spam folder? Mark it as safe, so that"
    " the next ones reach your inbox.",
)


def _compose(
    *, sender: str, recipient: str, subject: str, paragraphs: tuple[tuple[str, str], ...], link: str
) -> str:
    """One message: each paragraph in Dutch and in English, the link, the spam hint; text and HTML."""
    dutch = [nl for nl, _ in paragraphs]
    english = [en for _, en in paragraphs]
    text = "\n\n".join([*dutch, link, _SPAM_HINT[0], "-- English --", *english, link, _SPAM_HINT[1]])
    safe_link = html.escape(link, quote=True)

    def block(lines: list[str], hint: str, lang: str) -> str:
        body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
        return (
            f'<div lang="{lang}">{body}<p><a href="{safe_link}">{safe_link}</a></p>'
            f"<p><small>{html.escape(hint)}</small></p></div>"
        )

    markup = (
        '<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8"></head><body>'
        + block(dutch, _SPAM_HINT[0], "nl")
        + "<hr>"
        + block(english, _SPAM_HINT[1], "en")
        + "</body></html>"
    )
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = email.utils.make_msgid(domain="leerpoort")
    message["Content-Language"] = "nl, en"
    message.set_content(text)
    message.add_alternative(markup, subtype="html")
    return message.as_string()


def activation_message(
    *, sender: str, recipient: str, name: str, school: str, link: str, valid_days: int
) -> str:
    """The invitation to activate a staff account at a school."""
    return _compose(
        sender=sender,
        recipient=recipient,
        subject="Activeer uw Leerpoort-account / Activate your Leerpoort account",
        paragraphs=(
            (f"Beste {name},", f"Dear {name},"),
            (
                f"{school} heeft een account voor u klaargezet in Leerpoort. Kies met de link hieronder een"
                " wachtwoord om het te activeren. Een zin van een paar woorden is sterk en goed te"
                " onthouden.",
                f"{school} has set up a Leerpoort account for you. Choose a password with the link below to"
                " activate it. A phrase of a few words is strong and easy to remember.",
            ),
            (
                f"De link werkt één keer en is {valid_days} dagen geldig.",
                f"The link works once and is valid for {valid_days} days.",
            ),
        ),
        link=link,
    )


def reset_message(*, sender: str, recipient: str, link: str, valid_hours: int) -> str:
    """The link to choose a new password, after someone asked for it with this address."""
    return _compose(
        sender=sender,
        recipient=recipient,
        subject="Nieuw wachtwoord voor Leerpoort / New password for Leerpoort",
        paragraphs=(
            (
                "Iemand heeft gevraagd om een nieuw wachtwoord voor het Leerpoort-account met dit"
                " e-mailadres. Was u dat, kies dan met de link hieronder een nieuw wachtwoord. Was u het"
                " niet, dan kunt u deze mail negeren: uw wachtwoord blijft hetzelfde.",
                "Someone asked for a new password for the Leerpoort account with this e-mail address. If"
                " that was you, choose a new password with the link below. If it was not, ignore this"
                " message: your password stays as it is.",
            ),
            (
                f"De link werkt één keer en is {valid_hours} uur geldig.",
                f"The link works once and is valid for {valid_hours} hours.",
            ),
        ),
        link=link,
    )


def home_reminder_message(
    *, sender: str, recipient: str, logins: tuple[tuple[str, str, str], ...], valid_hours: int
) -> str:
    """The reminder a parent asked for on `/thuis/vergeten`: per child linked to this address its first
    name, its home username, and a link to choose a new PIN (`logins`: first name, username, link).
    A parent may have forgotten either, so the message always carries both."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = "Inloggen thuis bij Leerpoort / Signing in at home with Leerpoort"
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = email.utils.make_msgid(domain="leerpoort")
    message["Content-Language"] = "nl, en"
    dutch_intro = (
        "U vroeg om de gebruikersnaam of een nieuwe pincode voor inloggen thuis. Hieronder staat per kind de"
        f" gebruikersnaam, en een link om een nieuwe pincode te kiezen (die werkt één keer en {valid_hours}"
        " uur). Vroeg u niets, dan kunt u deze mail negeren: er verandert niets."
    )
    english_intro = (
        "You asked for the username or a new PIN for signing in at home. Below are each child's username"
        f" and a link to choose a new PIN (it works once, for {valid_hours} hours). If you did not ask,"
        " ignore this message: nothing changes."
    )
    text_lines = [dutch_intro, ""]
    for first_name, username, link in logins:
        text_lines += [f"{first_name}: gebruikersnaam {username}", f"Nieuwe pincode: {link}", ""]
    text_lines += [_SPAM_HINT[0], "-- English --", english_intro, ""]
    for first_name, username, link in logins:
        text_lines += [f"{first_name}: username {username}", f"New PIN: {link}", ""]
    text_lines.append(_SPAM_HINT[1])
    message.set_content("\n".join(text_lines))
    items = "".join(
        f"<li>{html.escape(first_name)}: <strong>{html.escape(username)}</strong>"
        f' — <a href="{html.escape(link, quote=True)}">nieuwe pincode kiezen</a></li>'
        for first_name, username, link in logins
    )
    message.add_alternative(
        '<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8"></head><body>'
        f"<p>{html.escape(dutch_intro)}</p><ul>{items}</ul><p><small>{html.escape(_SPAM_HINT[0])}</small></p>"
        f'<hr><div lang="en"><p>{html.escape(english_intro)}</p></div></body></html>',
        subtype="html",
    )
    return message.as_string()
