"""E-mail after a run: to the communicators and the registrar, in Swedish, over SMTP (register `notify:`).

Every front (run, snapshot, the scheduler, demo) calls `notify_run` after the pipeline returns. A mail
that cannot be sent never fails the run: the bundle is already stored; a warning is logged and the
outcome says why, for the CLI to print.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from archiver.models import PageCapture, RunRequest

log = logging.getLogger(__name__)

FAILURE_SV = {
    "login_wall": "sidan kräver inloggning",
    "unavailable": "sidan finns inte eller är inte tillgänglig",
    "session_expired": "den sparade inloggningen har gått ut",
    "timeout": "tidsgränsen överskreds",
    "http": "webbservern svarade med ett fel",
    "error": "tekniskt fel",
    "blocked": "adressen leder till ett privat nätverk och blockerades",
    "browser": "webbläsaren slutade fungera",
}


POST_CLASS_SV = {"decision": "beslut, ska diarieföras", "action": "åtgärd", "evidence": "bevis, inför polisanmälan"}


def _pages(n: int) -> str:
    return "sida" if n == 1 else "sidor"


def subject(organisation: str, captures: list[PageCapture]) -> str:
    failed = sum(1 for c in captures if not c.ok)
    total = len(captures)
    if failed:
        return (f"Arkivering: {failed} {_pages(failed)} misslyckades "
                f"({total - failed} av {total} arkiverade) – {organisation}")
    return f"Arkivering klar: {total} av {total} {_pages(total)} – {organisation}"


def _changes_lines(changes: dict | None) -> list[str]:
    """What changed since the previous scheduled run (Services.changes_since_last_scheduled), in words."""
    if not changes:
        return []
    lines = ["", f"Ändringar sedan förra schemalagda körningen ({changes['since']}):"]
    if changes.get("error"):
        return lines + [f"  Jämförelsen kunde inte göras: {changes['error']}"]
    if not changes["pages"]:
        lines.append("  Inga: varje sida som fångades båda gångerna ser likadan ut.")
    for page in changes["pages"]:
        lines.append(f"  - {page['key']}: {100 * page['changed_ratio']:.1f} % av raderna ändrade i "
                     f"{page['regions']} område(n), {len(page['posts_removed'])} inlägg borta, "
                     f"{page['posts_added']} nya")
        for post in page["posts_removed"]:
            facts = " · ".join(x for x in (post.get("author"), post.get("time"), post.get("permalink")) if x)
            lines.append(f"      borta: {facts}: «{(post.get('text') or '')[:100]}»")
    return lines + [f"  Rapport: {changes['report']}"]


def body(organisation: str, request: RunRequest, result, changes: dict | None = None) -> str:
    captured = [c for c in result.captures if c.ok]
    failed = [c for c in result.captures if not c.ok]
    lines = [
        f"Arkivering av sociala medier för {organisation}",
        "",
        f"Anledning:    {request.reason}",
        f"Beställd av:  {request.requested_by}",
        f"Paket-id:     {result.bundle_id}",
        f"Lagrat i:     {result.location}",
        f"PDF:          {result.pdf}",
        f"Manifest:     {result.manifest}",
        "",
        f"Arkiverade sidor ({len(captured)} av {len(result.captures)}):",
    ]
    post_class = getattr(request, "post_class", None)
    if post_class:
        lines[-1:-1] = [f"Inlägg:       {getattr(request, 'url', '')}",
                        f"Klass:        {POST_CLASS_SV.get(post_class, post_class)}", ""]
    lines += [f"  - {c.label}: {c.final_url or c.requested_url}" for c in captured] or ["  (inga)"]
    if failed:
        lines += ["", f"Misslyckade sidor ({len(failed)}):"]
        for c in failed:
            why = FAILURE_SV.get(c.failure or "", "okänt fel")
            lines.append(f"  - {c.label} ({c.requested_url}): {why} [{c.failure or 'error'}]: {c.error or ''}")
        lines += ["", "De misslyckade sidorna är namngivna i paketet; övriga sidor är arkiverade."]
    lines += _changes_lines(changes)
    lines += ["", "Paketet diarieförs med: archiver register " + result.bundle_id + ' --dnr "…" --by NAMN',
              "", "Detta meddelande skickades automatiskt av archiver."]
    return "\n".join(lines) + "\n"


def post_subject(organisation: str, request, result) -> str:
    what = POST_CLASS_SV.get(request.post_class, request.post_class)
    if result.failed:
        return f"Arkivering: inlägget kunde INTE sparas ({what}) – {organisation}"
    return f"Arkivering: inlägg sparat ({what}) – {organisation}"


def build_message(settings, organisation: str, request: RunRequest, result, changes: dict | None = None) -> EmailMessage:
    message = EmailMessage()
    post_class = getattr(request, "post_class", None)  # a single post (PostRequest)
    message["Subject"] = (post_subject(organisation, request, result) if post_class
                          else subject(organisation, result.captures))
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(body(organisation, request, result, changes))
    return message


def send(settings, message: EmailMessage) -> None:
    """Send over SMTP as `settings` says; raises OSError/smtplib.SMTPException/LookupError on failure."""
    password = None
    if settings.password_env:
        password = os.environ.get(settings.password_env)
        if password is None:
            raise LookupError(f"environment variable {settings.password_env} (notify.password_env) is not set")
    timeout = settings.timeout_s
    if settings.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout,
                                                context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with client:
        if settings.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.username:
            client.login(settings.username, password or "")
        client.send_message(message, to_addrs=list(settings.recipients))


def notify_run(register, request: RunRequest, result, changes: dict | None = None) -> dict | None:
    """Mail the run's outcome (and, after a scheduled run, `changes` since the previous one); None when the
    register has no `notify:` section.

    Returns {"notified": True} or {"notified": False, "notify_error": "..."}; never raises for a mail
    problem.
    """
    settings = getattr(register, "notify", None)
    if settings is None:
        return None
    try:
        send(settings, build_message(settings, register.organisation, request, result, changes))
    except (OSError, smtplib.SMTPException, LookupError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, LookupError) else str(exc)
        log.warning("bundle %s is stored, but the notification e-mail was NOT sent: %s", result.bundle_id,
                    error)
        return {"notified": False, "notify_error": error}
    log.info("notification e-mail sent to %s", ", ".join(settings.recipients))
    return {"notified": True}


FAILURE_COLLECT_SV = {"token": "token fungerar inte (utgånget, återkallat eller utan behörighet)",
                      "rate_limited": "plattformen bad oss vänta; nästa insamling fortsätter",
                      "network": "ingen kontakt med plattformen", "api": "plattformen svarade med ett fel"}


def collection_message(settings, organisation: str, failed: list[dict]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"Insamling via API: {len(failed)} sida/sidor misslyckades – {organisation}"
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    lines = [f"Insamling av inlägg och kommentarer via plattformarnas API för {organisation}", ""]
    for one in failed:
        why = FAILURE_COLLECT_SV.get(one.get("failure") or "", "okänt fel")
        lines.append(f"  - {one['id']} ({one.get('platform')}): {why}: {one.get('error') or ''}")
    lines += ["", "Det som samlades in före felet är sparat. En sida vars token inte fungerar samlas inte in",
              "förrän en ny token har lagts där registret anger (api.token_file eller api.token_env);",
              "kontrollera med: archiver collect --check", "", "Detta meddelande skickades automatiskt av archiver."]
    message.set_content("\n".join(lines) + "\n")
    return message


def notify_collection(register, outcomes: list[dict]) -> dict | None:
    """Mail when a page's collection failed or its token does not work (never for a quiet hourly success);
    None when nothing failed or the register has no `notify:`. Never raises for a mail problem."""
    settings = getattr(register, "notify", None)
    failed = [o for o in outcomes if o.get("status") != "ok"]
    if settings is None or not failed:
        return None
    try:
        send(settings, collection_message(settings, register.organisation, failed))
    except (OSError, smtplib.SMTPException, LookupError, ValueError) as exc:
        log.warning("the collection's failure e-mail was NOT sent: %s", exc)
        return {"notified": False, "notify_error": str(exc)}
    return {"notified": True}
