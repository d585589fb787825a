"""Signals of the homes' app for the apps above it (facilities imports none of them).

`nursing_target_changed` is sent inside the transaction of a change to a home's own nursing target
(R-NQ-1): a lower target raises the self-care cap, and the beds the quota had blocked must be
allocated again (R-ALLOC-3). The allocation lives in admissions, which connects to it."""

from django.dispatch import Signal

nursing_target_changed = Signal()  # sender=Facility, facility=…, before=…, after=… (Decimal or None)
