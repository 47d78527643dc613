"""Signals the returns app sends so that apps above it (insights, campaigns) can follow
returns without returns importing them. Both are sent after the transaction commits,
with `request_id` and `customer_id` (ints) as keyword arguments.

- return_filed: a new return was filed.
- return_resolved: a return reached an end that changes what counts for analytics:
  resolved, rejected or cancelled.
"""

from django.dispatch import Signal

return_filed = Signal()
return_resolved = Signal()
