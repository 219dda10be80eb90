"""An invoice as a PDF, drawn with fpdf2 (its core fonts: Latin-1 text, so other characters are replaced)."""

from __future__ import annotations

from fpdf import FPDF

from webapp.billing.models import Invoice, Plan


def _money(minor: int, currency: str) -> str:
    return f"{minor / 100:,.2f} {currency}"


def _latin(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def invoice_pdf_bytes(invoice: Invoice, plan: Plan, number: str, org_name: str) -> bytes:
    """The printable invoice: who, which period, the lines, and the amounts that add up to the total."""
    pdf = FPDF(format="A4")
    pdf.set_title(number)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 18)
    pdf.cell(0, 10, "Credit note" if invoice.kind == "credit_note" else "Invoice", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    for label, value in (
        ("Number", number),
        ("Billed to", org_name),
        ("Plan", f"{plan.name} (version {plan.version})"),
        ("Period", f"{invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d}"),
        ("Status", str(invoice.status.value)),
        ("Issued", f"{invoice.finalized_at:%Y-%m-%d}"),
    ):
        pdf.cell(35, 7, label)
        pdf.cell(0, 7, _latin(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("helvetica", "B", 11)
    pdf.cell(110, 8, "Description", border="B")
    pdf.cell(25, 8, "Quantity", border="B", align="R")
    pdf.cell(0, 8, "Amount", border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    for line in invoice.lines:
        sign = "-" if line.kind == "refund" else ""
        pdf.cell(110, 7, _latin(line.description)[:70])
        pdf.cell(25, 7, str(line.quantity), align="R")
        pdf.cell(0, 7, sign + _money(line.amount, invoice.currency), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for label, amount, bold in (
        ("Subscription", invoice.subscription_amount, False),
        ("Usage", invoice.usage_amount, False),
        ("Proration", invoice.proration_amount, False),
        ("Refunds", -invoice.refund_amount, False),
        ("Total", invoice.total_amount, True),
    ):
        pdf.set_font("helvetica", "B" if bold else "", 11)
        pdf.cell(135, 7, label, align="R")
        pdf.cell(0, 7, _money(amount, invoice.currency), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
