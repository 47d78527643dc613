"""Signals the shop sends so that apps above it can take part without the shop
importing them (see DESIGN.md, "Apps and the direction of their imports").

Receivers are called with `customer=<Customer>` and return `(section, data)`:
`section` names their part of the answer, `data` is JSON-serialisable.

- customer_export_requested: return everything the app holds on the customer.
- customer_erase_requested: anonymise what the app holds on the customer (inside the
  erase transaction, before the customer itself is anonymised) and return a summary.

customer_time_zone_reported is sent with `customer=<Customer>` and `time_zone=<str>`
(an IANA name the customer's browser reported, already checked to be a known zone);
its receivers return nothing.
"""

from django.dispatch import Signal

customer_export_requested = Signal()
customer_erase_requested = Signal()
customer_time_zone_reported = Signal()
