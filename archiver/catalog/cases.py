"""The cases (ärenden) bundles are registered in, and their documents: the registrar's record.

A mixin of `archiver.catalog.Catalog`, kept apart because it is the registrar's view, not the runs'.
A case is opened by its first registration (in the same transaction); every later document of it is a
registration naming its diarienummer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from archiver.catalog.tables import bundles, cases, registrations
from archiver.errors import BadInputError

CASE_COLUMNS = ("dnr", "title", "classification", "collective_year")


class CaseQueries:
    """Needs the Catalog's `engine`, `org`, `_mine`, `_write` and `get_bundle`."""

    def case(self, dnr: str) -> dict | None:
        """The case with this diarienummer, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(cases).where(cases.c.dnr == dnr, self._mine(cases))).first()
        return dict(row._mapping) if row else None

    def collective_case(self, year: int) -> dict | None:
        """The year's collective case (`registration: {collective_case: yearly}`), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(cases).where(cases.c.collective_year == year, self._mine(cases))
                               .order_by(cases.c.id)).first()
        return dict(row._mapping) if row else None

    def case_documents(self, dnr: str) -> dict[int, str]:
        """The case's document numbers, each to the bundle it is (culled bundles' numbers stay taken)."""
        query = (select(registrations.c.document_no, registrations.c.bundle_id)
                 .join(bundles, bundles.c.id == registrations.c.bundle_id)
                 .where(registrations.c.dnr == dnr, registrations.c.document_no.is_not(None), self._mine(bundles)))
        with self.engine.connect() as conn:
            return {row.document_no: row.bundle_id for row in conn.execute(query)}

    def list_cases(self) -> list[dict]:
        """Every case, oldest first, each with its documents (`documents`: registrations with bundle ids)."""
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(cases).where(self._mine(cases))
                                                           .order_by(cases.c.opened_at, cases.c.id))]
            for row in rows:
                row["documents"] = [dict(r._mapping) for r in conn.execute(
                    select(registrations).join(bundles, bundles.c.id == registrations.c.bundle_id)
                    .where(registrations.c.dnr == row["dnr"], self._mine(bundles))
                    .order_by(registrations.c.document_no, registrations.c.id))]
        return rows

    def add_registration(self, bundle_id: str, entry: dict, at: datetime, manifest_sha256: str,
                         detail: dict | None = None, case: dict | None = None) -> dict:
        """The registration (`entry`, as the manifest has it), the case it opens (`case`), the stored
        manifest's new SHA-256 and the trail's entry, in one transaction."""
        from archiver.catalog.db import _append

        self.get_bundle(bundle_id)
        by = entry["registered_by"]
        values = {key: entry.get(key) for key in ("case_title", "classification", "document_no", "document_title",
                                                  "secrecy")}
        with self._write() as conn:
            if case is not None and conn.execute(select(cases.c.id).where(
                    cases.c.dnr == case["dnr"], self._mine(cases))).first() is None:
                if case.get("collective_year") is not None and conn.execute(select(cases.c.dnr).where(
                        cases.c.collective_year == case["collective_year"], self._mine(cases))).first():
                    raise BadInputError(f"another collective case for {case['collective_year']} was opened meanwhile")
                conn.execute(insert(cases).values(org=self.org, opened_by=by, opened_at=at,
                                                  **{key: case.get(key) for key in CASE_COLUMNS}))
            conn.execute(insert(registrations).values(bundle_id=bundle_id, dnr=entry["dnr"], registered_by=by,
                                                      registered_at=at, **values))
            conn.execute(update(bundles).where(bundles.c.id == bundle_id).values(manifest_sha256=manifest_sha256))
            _append(conn, self.org, by, "bundle.registered", bundle_id,
                    {"dnr": entry["dnr"], **{k: v for k, v in values.items() if v is not None}, **(detail or {})})
        return {"dnr": entry["dnr"], "registered_by": by, "registered_at": at, **values}
