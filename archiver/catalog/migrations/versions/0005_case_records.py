"""A registration is a document in a case (FGS Ärendehantering / CITS ERMS): its case title, classification
code, document number (löpnummer), title and secrecy; and the cases themselves, with the year whose
collective case a case is (`registration: {collective_case: yearly}`).

Registrations made before have only their diarienummer; the new columns stay empty for them.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in (sa.Column("case_title", sa.Text), sa.Column("classification", sa.Text),
                   sa.Column("document_no", sa.Integer), sa.Column("document_title", sa.Text),
                   sa.Column("secrecy", sa.Text)):
        op.add_column("registrations", column)
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org", sa.String(80), index=True),
        sa.Column("dnr", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("classification", sa.Text),
        sa.Column("collective_year", sa.Integer),
        sa.Column("opened_by", sa.Text, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org", "dnr", name="uq_cases_org_dnr"),
    )


def downgrade() -> None:
    raise NotImplementedError("the catalog is the archive's record: it is never migrated down")
