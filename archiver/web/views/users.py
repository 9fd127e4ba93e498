"""Användare: the administrator lists, adds and disables the page's accounts."""

from __future__ import annotations

import logging

from flask import Blueprint, g, redirect, render_template, request, url_for

from archiver.errors import BadInputError, NotFoundError
from archiver.web import accounts
from archiver.web.shared import Refused, accounts_of, audit
from archiver.web.words import NOTICES

log = logging.getLogger(__name__)

bp = Blueprint("users", __name__)


def users_page(error: str | None = None, status: int = 200, name: str = "", role: str = ""):
    return render_template("users.html", users=accounts.list_users(accounts_of()), roles=accounts.ROLES,
                           error=error, name=name, role=role, notice=NOTICES.get(request.args.get("klart", "")),
                           min_length=accounts.MIN_PASSWORD_LENGTH), status


@bp.get("/users")
def users():
    return users_page()


@bp.post("/users")
def users_add():
    name, role = request.form.get("name", "").strip(), request.form.get("role", "")
    password, again = request.form.get("password", ""), request.form.get("password2", "")
    if password != again:
        return users_page("Lösenorden är inte lika.", 400, name, role)
    if not accounts.NAME.match(name):
        return users_page("Användarnamnet får bara innehålla bokstäver, siffror och . _ @ - (högst 80 tecken).",
                          400, name, role)
    if role not in accounts.ROLES:
        return users_page("Välj en roll.", 400, name, role)
    if len(password) < accounts.MIN_PASSWORD_LENGTH:
        return users_page(f"Lösenordet måste ha minst {accounts.MIN_PASSWORD_LENGTH} tecken.", 400, name, role)
    try:
        accounts.add_user(accounts_of(), name, role, password)
    except BadInputError:
        return users_page(f"Det finns redan en användare som heter {name}.", 400, name, role)
    audit("user.added", None, {"name": name, "role": role})
    return redirect(url_for("users.users", klart="tillagd"), code=303)


@bp.post("/users/<name>/disable")
def users_disable(name: str):
    if name == g.session.user.name:
        return users_page("Du kan inte inaktivera ditt eget konto.", 400)
    try:
        accounts.disable_user(accounts_of(), name)
    except NotFoundError:
        raise Refused(404, "Det finns ingen sådan användare.") from None
    audit("user.disabled", None, {"name": name})
    return redirect(url_for("users.users", klart="inaktiverad"), code=303)
