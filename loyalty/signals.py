"""Signals loyalty sends so that apps above it can take part without loyalty
importing them (see DESIGN.md, "Apps and the direction of their imports").

- kept_order_deductions: sent by `loyalty.services.kept_total(order)` with
  `order=<Order>`; each receiver returns a Decimal to subtract from the order's total
  (returns answers with the value of what came back), or None.
"""

from django.dispatch import Signal

kept_order_deductions = Signal()
