-- Allowances on shared scopes: a process leases part of a scope as one reservation row and
-- serves calls from it locally, syncing spend back in batches.
-- Per scope: allowances on (1, the default) or off (every call booked in the store).
ALTER TABLE budget_scope_defs ADD COLUMN allowances INTEGER NOT NULL DEFAULT 1;
-- When the scope last refused a call or a refill: it is under pressure for a while after.
ALTER TABLE budget_scopes ADD COLUMN last_refusal_ms INTEGER;
-- An allowance row's last sync (NULL on a per-call reservation): its sequence number and the
-- answer given, so a sync sent again is answered the same and applied once.
ALTER TABLE budget_reservations ADD COLUMN sync_seq INTEGER;
ALTER TABLE budget_reservations ADD COLUMN sync_granted INTEGER;
ALTER TABLE budget_reservations ADD COLUMN sync_refused INTEGER;
ALTER TABLE budget_reservations ADD COLUMN sync_pressure INTEGER;
