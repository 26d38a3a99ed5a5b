-- Operators' credits to shared scopes: a reservation whose holder died is charged in full (the
-- request may have been billed); who gives money back to a scope, how much, when and why is
-- kept here. The credit lowers the spend of the period row it names.
CREATE TABLE budget_credits (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL REFERENCES budget_scope_defs (name),
    scope_key     TEXT NOT NULL,
    amount_nanos  BIGINT NOT NULL,
    credited_by   TEXT NOT NULL,
    reason        TEXT NOT NULL,
    at_ms         BIGINT NOT NULL
);
CREATE INDEX budget_credits_by_name ON budget_credits (name, id);
-- Expired leases are found by time alone when every scope's are charged at once.
CREATE INDEX budget_reservations_by_expiry ON budget_reservations (lease_until_ms);
