-- Allowances on shared scopes: a process leases part of a scope as one reservation row and
-- serves calls from it locally, syncing spend back in batches.
-- Per scope: allowances on (the default) or off (every call booked in the store).
ALTER TABLE budget_scope_defs ADD COLUMN allowances BOOLEAN NOT NULL DEFAULT TRUE;
-- When the scope last refused a call or a refill: it is under pressure for a while after.
ALTER TABLE budget_scopes ADD COLUMN last_refusal_ms BIGINT;
-- An allowance row's last sync (NULL on a per-call reservation): its sequence number and the
-- answer given, so a sync sent again is answered the same and applied once.
ALTER TABLE budget_reservations
    ADD COLUMN sync_seq BIGINT,
    ADD COLUMN sync_granted BIGINT,
    ADD COLUMN sync_refused BOOLEAN,
    ADD COLUMN sync_pressure BOOLEAN;

-- One allowance sync in one statement (one round trip, the period row locked only while it
-- runs). The same steps as core/src/store/allowance_sync.rs `apply`, which the memory and
-- SQLite stores run; the store suite checks all three alike. Answers status 'undefined' for a
-- scope nobody defined and 'expired' when leases on the row have ended: the caller then
-- charges them (recording their unsettled calls) and calls again in that transaction.
CREATE FUNCTION wflo_sync_allowance(
    p_id TEXT, p_name TEXT, p_key TEXT, p_holder TEXT, p_execution TEXT,
    p_seq BIGINT, p_write_back BIGINT, p_overrun BIGINT, p_give_back BIGINT,
    p_need BIGINT, p_want BIGINT, p_now BIGINT, p_lease_until BIGINT,
    p_enabled BOOLEAN, p_pressure_ms BIGINT, p_fraction_ppm BIGINT,
    p_min_grant BIGINT, p_max_grant BIGINT)
RETURNS TABLE (status TEXT, granted BIGINT, refused BOOLEAN, pressure BOOLEAN,
               limit_nanos BIGINT, spent BIGINT, reserved BIGINT, held BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_limit BIGINT; v_spent BIGINT; v_reserved BIGINT; v_overrun BIGINT;
    v_refusing BOOLEAN; v_last BIGINT;
    r_amount BIGINT; r_seq BIGINT; r_granted BIGINT; r_refused BOOLEAN; r_pressure BOOLEAN;
    v_taken BIGINT; v_amount BIGINT; v_grant BIGINT := 0; v_refused BOOLEAN := FALSE;
    v_headroom NUMERIC; v_share NUMERIC; v_others BIGINT; v_pressure BOOLEAN;
BEGIN
    SELECT s.limit_nanos, s.spent_nanos, s.reserved_nanos, s.overrun_nanos, s.refusing, s.last_refusal_ms
      INTO v_limit, v_spent, v_reserved, v_overrun, v_refusing, v_last
      FROM budget_scopes s WHERE s.key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        SELECT d.limit_nanos INTO v_limit FROM budget_scope_defs d WHERE d.name = p_name;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'undefined'::TEXT, 0::BIGINT, FALSE, FALSE, NULL::BIGINT, 0::BIGINT, 0::BIGINT, 0::BIGINT;
            RETURN;
        END IF;
        INSERT INTO budget_scopes (key, name, limit_nanos, updated_at_ms)
            VALUES (p_key, p_name, v_limit, p_now) ON CONFLICT (key) DO NOTHING;
        SELECT s.limit_nanos, s.spent_nanos, s.reserved_nanos, s.overrun_nanos, s.refusing, s.last_refusal_ms
          INTO v_limit, v_spent, v_reserved, v_overrun, v_refusing, v_last
          FROM budget_scopes s WHERE s.key = p_key FOR UPDATE;
    END IF;
    IF EXISTS (SELECT 1 FROM budget_reservations b WHERE b.scope_key = p_key AND b.lease_until_ms <= p_now) THEN
        RETURN QUERY SELECT 'expired'::TEXT, 0::BIGINT, FALSE, FALSE, v_limit, v_spent, v_reserved, 0::BIGINT;
        RETURN;
    END IF;
    SELECT b.amount_nanos, b.sync_seq, b.sync_granted, b.sync_refused, b.sync_pressure
      INTO r_amount, r_seq, r_granted, r_refused, r_pressure
      FROM budget_reservations b WHERE b.id = p_id AND b.scope_key = p_key AND b.sync_seq IS NOT NULL;
    IF FOUND AND p_seq <= r_seq THEN
        -- Sent again: the same answer, nothing applied twice.
        UPDATE budget_reservations b SET lease_until_ms = p_lease_until WHERE b.id = p_id AND b.scope_key = p_key;
        RETURN QUERY SELECT 'ok'::TEXT, r_granted, r_refused, r_pressure, v_limit, v_spent, v_reserved, r_amount;
        RETURN;
    END IF;
    r_amount := COALESCE(r_amount, 0);
    v_taken := LEAST(r_amount, p_write_back + p_give_back);
    v_reserved := GREATEST(v_reserved - v_taken, 0);
    v_spent := v_spent + p_write_back + p_overrun;
    IF p_overrun > 0 THEN
        v_overrun := v_overrun + p_overrun;
        v_refusing := v_refusing OR v_limit IS NOT NULL;
    END IF;
    v_amount := r_amount - v_taken;
    IF p_need > 0 THEN
        v_pressure := v_last IS NOT NULL AND p_now < v_last + p_pressure_ms;
        v_headroom := GREATEST(COALESCE(v_limit, 9223372036854775807)::NUMERIC - v_spent - v_reserved, 0);
        IF v_refusing AND v_limit IS NOT NULL THEN
            v_refused := TRUE;
        ELSIF p_need > v_headroom THEN
            v_refused := TRUE;
        ELSIF NOT p_enabled OR v_pressure THEN
            v_grant := p_need;
        ELSE
            SELECT COUNT(DISTINCT b.holder) INTO v_others FROM budget_reservations b
             WHERE b.scope_key = p_key AND b.sync_seq IS NOT NULL AND b.amount_nanos > 0
               AND b.holder <> p_holder AND b.id <> p_id;
            v_share := div(div(v_headroom * p_fraction_ppm, 1000000), v_others + 1);
            v_share := LEAST(v_share, p_max_grant);
            IF v_share < p_min_grant THEN v_share := 0; END IF;
            v_grant := LEAST(GREATEST(LEAST(v_share, GREATEST(p_want, p_need)), p_need), v_headroom)::BIGINT;
        END IF;
        IF v_refused THEN
            v_last := p_now;
        ELSE
            v_amount := v_amount + v_grant;
            v_reserved := v_reserved + v_grant;
        END IF;
    END IF;
    v_pressure := v_last IS NOT NULL AND p_now < v_last + p_pressure_ms;
    UPDATE budget_scopes s SET spent_nanos = v_spent, reserved_nanos = v_reserved, overrun_nanos = v_overrun,
           refusing = v_refusing, last_refusal_ms = v_last, updated_at_ms = p_now
     WHERE s.key = p_key;
    INSERT INTO budget_reservations (id, scope_key, amount_nanos, holder, execution_id, lease_until_ms,
                                     created_at_ms, sync_seq, sync_granted, sync_refused, sync_pressure)
    VALUES (p_id, p_key, v_amount, p_holder, p_execution, p_lease_until, p_now, p_seq, v_grant, v_refused, v_pressure)
    ON CONFLICT (id, scope_key) DO UPDATE SET amount_nanos = EXCLUDED.amount_nanos,
        execution_id = COALESCE(EXCLUDED.execution_id, budget_reservations.execution_id),
        lease_until_ms = EXCLUDED.lease_until_ms, sync_seq = EXCLUDED.sync_seq,
        sync_granted = EXCLUDED.sync_granted, sync_refused = EXCLUDED.sync_refused,
        sync_pressure = EXCLUDED.sync_pressure;
    RETURN QUERY SELECT 'ok'::TEXT, v_grant, v_refused, v_pressure, v_limit, v_spent, v_reserved, v_amount;
END;
$$;
