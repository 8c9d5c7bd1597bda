-- `meterdesk bench api --ceiling`: the ceiling of a submission made in one call to the database.
--
-- Created by the benchmark in its own database only (never by a migration), and reached only
-- through POST /api/v1/bench/ceiling/{meter_id} (mounted with METERDESK_BENCH_ENDPOINTS=1). It is
-- NOT a way to take readings: it is the least a durable, checked, idempotent submission with a
-- confirmation e-mail must do, done in a single round trip, so that the benchmark can measure how
-- fast that shape of submission could ever be on this machine, beside the real one.
--
-- What it does, as the real submission does: the token and its login; the meter, locked, if the
-- login is linked to its account, with the key's stored answer; the previous accepted reading
-- (below it: 400); the prices of the account's tariff for the month; the month's earlier reading
-- superseded; the reading inserted; the confirmation e-mail queued in the outbox; the answer
-- stored under the Idempotency-Key; the answer returned as JSON. What it leaves out (so that its
-- rate is a ceiling, never below what the real rules could reach): the reading window, digits and
-- rollover, the unusual-consumption check against the average, true-ups, estimates, bands,
-- control readings, replacements and the translated texts (the labels are the Russian ones).
--
-- Returns the answer's JSON, or a three-digit status ('401', '404', '400') with no body.
CREATE OR REPLACE FUNCTION bench_submit_ceiling(
    p_hash text, p_meter bigint, p_values numeric[], p_key text, p_digest text, p_period date,
    p_now timestamptz, p_confirmation text, p_confirm jsonb
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_user bigint;
    v_token bigint;
    v_email text;
    v_scope text;
    v_meter record;
    v_prev record;
    v_old record;
    v_id bigint;
    v_kind text;
    v_lines jsonb;
    v_total numeric;
    v_values jsonb;
    v_charge jsonb;
    v_body jsonb;
BEGIN
    SELECT t.id, t.user_id, u.email INTO v_token, v_user, v_email
      FROM api_apitoken t JOIN customers_user u ON u.id = t.user_id
     WHERE t.key_hash = p_hash AND t.revoked_at IS NULL AND u.is_active;
    IF NOT FOUND THEN
        RETURN '401';
    END IF;
    v_scope := 'token:' || v_token;
    SELECT m.id, m.account_id, m.zones, a.number, a.category, r.response AS replay
      INTO v_meter
      FROM metering_meter m JOIN customers_account a ON a.id = m.account_id
      LEFT JOIN api_idempotencyrecord r ON r.scope = v_scope AND r.key = p_key
     WHERE m.id = p_meter
       AND EXISTS (SELECT 1 FROM customers_accountlink l WHERE l.account_id = m.account_id AND l.user_id = v_user)
       FOR UPDATE OF m;
    IF NOT FOUND THEN
        RETURN '404';
    END IF;
    IF v_meter.replay IS NOT NULL THEN
        RETURN v_meter.replay::text;
    END IF;
    SELECT period, t1, t2, t3 INTO v_prev FROM metering_reading
     WHERE meter_id = p_meter AND status = 'accepted' AND period < p_period
     ORDER BY period DESC, submitted_at DESC LIMIT 1;
    IF NOT FOUND OR p_values[1] < v_prev.t1 OR p_values[2] < v_prev.t2 OR p_values[3] < v_prev.t3 THEN
        RETURN '400';
    END IF;
    v_kind := CASE v_meter.zones WHEN 1 THEN 'single' WHEN 2 THEN 'two_zone' ELSE 'three_zone' END;
    WITH zone AS (
        SELECT z, p_values[z] - (ARRAY[v_prev.t1, v_prev.t2, v_prev.t3])[z] AS volume,
               (ARRAY['Однотарифный', 'День', 'Ночь'])[z] AS label
          FROM generate_series(1, v_meter.zones) AS z
    ), priced AS (
        SELECT zone.z, zone.volume, zone.label, p.price, round(zone.volume * p.price, 2) AS amount
          FROM zone JOIN tariffs_tariffprice p ON p.zone = zone.z AND p.band = 1
         WHERE p.tariff_id = (
               SELECT t.id FROM tariffs_tariff t
                WHERE t.category = v_meter.category AND t.kind = v_kind AND t.valid_from <= p_period
                  AND (t.valid_to IS NULL OR t.valid_to >= p_period)
                ORDER BY t.valid_from DESC LIMIT 1)
    )
    SELECT jsonb_agg(jsonb_build_object(
               'zone', z, 'zone_label', label, 'band', 1, 'volume', volume::text, 'price', price::text,
               'amount', amount::text, 'basis', 'actual', 'reason', 'readings',
               'words', 'по вашим показаниям') ORDER BY z),
           sum(amount),
           jsonb_agg(jsonb_build_object('zone', z, 'label', label, 'value', p_values[z]::text) ORDER BY z)
      INTO v_lines, v_total, v_values
      FROM priced;
    UPDATE metering_reading SET status = 'superseded'
     WHERE meter_id = p_meter AND period = p_period AND status = 'accepted'
    RETURNING id, confirmation INTO v_old;
    INSERT INTO metering_reading (meter_id, account_id, period, t1, t2, t3, kind, channel, status,
                                  submitted_at, submitted_by_id, replaces_id, confirmation, confirmed,
                                  rolled_over)
    VALUES (p_meter, v_meter.account_id, p_period, p_values[1], p_values[2], p_values[3], 'customer',
            'api', 'accepted', p_now, v_user, v_old.id, p_confirmation,
            (SELECT coalesce(string_agg(c, ','), '') FROM jsonb_array_elements_text(p_confirm) c), false)
    RETURNING id INTO v_id;
    v_charge := jsonb_build_object('period', to_char(p_period, 'YYYY-MM'), 'basis', 'actual', 'months', 1,
                                   'lines', v_lines, 'total', v_total::text);
    INSERT INTO metering_confirmationmail (reading_id, email, language, charge, created_at,
                                           next_attempt_at, attempts, last_error)
    VALUES (v_id, v_email, 'ru',
            jsonb_build_object('consumption', (SELECT jsonb_agg(l->>'volume') FROM jsonb_array_elements(v_lines) l),
                               'months', 1,
                               'lines', (SELECT jsonb_agg(l - 'zone_label' - 'words' || jsonb_build_object(
                                             'detail', jsonb_build_object('since', to_char(v_prev.period, 'YYYY-MM'),
                                                                          'months', '1'),
                                             'after_control', false))
                                           FROM jsonb_array_elements(v_lines) l),
                               'total', v_total::text,
                               'period', p_period::text, 'basis', 'actual')::text,
            p_now, p_now, 0, '');
    v_body := jsonb_build_object(
        'id', v_id, 'confirmation', p_confirmation, 'meter_id', p_meter, 'account_number', v_meter.number,
        'period', to_char(p_period, 'YYYY-MM'), 'values', v_values, 'kind', 'customer', 'channel', 'api',
        'status', 'accepted', 'submitted_at', p_now, 'rolled_over', false, 'confirmed', p_confirm,
        'replaced', v_old.confirmation, 'charge', v_charge);
    INSERT INTO api_idempotencyrecord (scope, key, user_id, request_hash, status_code, response, created_at)
    VALUES (v_scope, p_key, v_user, p_digest, 201, v_body, p_now);
    RETURN v_body::text;
END
$$;
