WITH acc AS MATERIALIZED (
    SELECT a.id, a.category FROM {t_acc} a
    WHERE a.id BETWEEN %(lo)s AND %(hi)s AND a.opened_on <= %(end)s
      AND (a.closed_on IS NULL OR a.closed_on >= %(period)s)
      AND NOT EXISTS (SELECT 1 FROM {t_close} c WHERE c.account_id = a.id
                      AND c.account_id BETWEEN %(lo)s AND %(hi)s AND (c.period + 0) >= %(period)s)
),
-- the prices per zone of the tariffs the fast path may use (by category and zones), and the
-- single-rate price of the category (for reversing norm estimates)
tp AS MATERIALIZED (
    SELECT * FROM unnest(%(p_cat)s::text[], %(p_zones)s::int[], %(p_1)s::numeric[], %(p_2)s::numeric[],
                         %(p_3)s::numeric[]) AS t (category, zones, p1, p2, p3)
),
single AS MATERIALIZED (
    SELECT * FROM unnest(%(s_cat)s::text[], %(s_price)s::numeric[]) AS t (category, price)
),
-- The meters of the chunk's accounts, looked up account by account: joined directly, the planner
-- estimates the join by the table's ids (a chunk's 2 000 accounts × 2 000 meters / N distinct
-- account ids: 4 rows at N = 1 000 000), every estimate after it falls to 1 row, and the CTEs are
-- then joined by nested loops, quadratic in the chunk (docs/billing.md, "The statement's plan at
-- scale"). OFFSET 0 keeps the lookup a subquery, estimated at one meter an account.
mm AS MATERIALIZED (
    SELECT m.*, acc.category, tp.p1, tp.p2, tp.p3, single.price AS sp
    FROM acc CROSS JOIN LATERAL (SELECT * FROM {t_meter} m0 WHERE m0.account_id = acc.id OFFSET 0) m
    LEFT JOIN tp ON tp.category = acc.category AND tp.zones = m.zones
    LEFT JOIN single ON single.category = acc.category
    WHERE m.account_id BETWEEN %(lo)s AND %(hi)s AND m.installed_on <= %(end)s
),
mt AS MATERIALIZED (
    SELECT m.id AS meter_id, m.account_id, m.zones, m.category, m.p1, m.p2, m.p3, m.sp,
           s.data, r.t1, r.t2, r.t3,
           -- what the engine needs of every meter it bills by reading or by average
           COALESCE(
               m.installed_on < %(period)s AND m.removed_on IS NULL AND m.zones BETWEEN 1 AND 3
               AND m.verification_due >= %(end)s
               AND CASE WHEN m.failed_on IS NOT NULL THEN m.failed_on > %(end)s
                        ELSE m.status NOT IN ('failed', 'lost') END
               AND jsonb_typeof(s.data -> 'raw') = 'array' AND jsonb_array_length(s.data -> 'raw') = m.zones
               AND jsonb_typeof(s.data -> 'last') = 'array'
               AND jsonb_typeof(s.data -> 'last' -> 1) = 'array'
               AND jsonb_array_length(s.data -> 'last' -> 1) = m.zones
               AND jsonb_typeof(COALESCE(s.data -> 'anchors', '[]')) = 'array'
               AND jsonb_typeof(COALESCE(s.data -> 'est_periods', '[]')) IN ('array', 'null')
               AND (COALESCE(s.data -> 'est', '[]') IN ('[]'::jsonb, 'null'::jsonb)
                    OR (jsonb_typeof(s.data -> 'est') = 'array' AND jsonb_array_length(s.data -> 'est') = m.zones))
               AND (COALESCE(s.data -> 'est_norm', '""') IN ('""'::jsonb, 'null'::jsonb)
                    OR jsonb_typeof(s.data -> 'est_norm') = 'string')
               AND m.p1 IS NOT NULL,
               false) AS base,
           -- one customer's reading, one value per zone; estimates to true up: per zone (none, or
           -- values ≥ 0) and by norm (none, or ≥ 0 at a single-rate tariff without bands)
           COALESCE(
               r.n = 1 AND r.customer
               AND r.t1 IS NOT NULL AND (r.t2 IS NOT NULL) = (m.zones >= 2)
               AND (r.t3 IS NOT NULL) = (m.zones >= 3)
               AND COALESCE((s.data -> 'est' ->> 0)::numeric, 0) >= 0
               AND COALESCE((s.data -> 'est' ->> 1)::numeric, 0) >= 0
               AND COALESCE((s.data -> 'est' ->> 2)::numeric, 0) >= 0
               AND (COALESCE((NULLIF(s.data ->> 'est_norm', ''))::numeric, 0) = 0
                    OR ((s.data ->> 'est_norm')::numeric > 0 AND m.sp IS NOT NULL)),
               false) AS by_reading,
           r.n = 0 AS no_reading
    FROM mm m
    LEFT JOIN {t_state} s ON s.meter_id = m.id AND s.period = %(prev)s
        AND s.account_id BETWEEN %(lo)s AND %(hi)s
    -- the month's accepted readings of the meter (read, as the engine's caller reads them, with
    -- the reading's account in the span); one row per meter, whatever the estimates say
    CROSS JOIN LATERAL (
        SELECT COUNT(*) AS n, bool_and(q.kind = 'customer') AS customer,
               MAX(q.t1) AS t1, MAX(q.t2) AS t2, MAX(q.t3) AS t3
        FROM {t_read} q
        WHERE q.meter_id = m.id AND q.period = %(period)s AND q.account_id BETWEEN %(lo)s AND %(hi)s
          AND q.status = 'accepted' AND q.kind IN ('customer', 'control', 'final')) r
),
used AS MATERIALIZED (
    SELECT mt.*, (mt.data -> 'last') AS last,
           mt.t1 - (mt.data -> 'raw' ->> 0)::numeric AS c1,
           mt.t2 - (mt.data -> 'raw' ->> 1)::numeric AS c2,
           mt.t3 - (mt.data -> 'raw' ->> 2)::numeric AS c3
    FROM mt WHERE mt.base AND mt.by_reading
),
-- no reading in the month (p.59): the average over the anchors (domain.billing.average_of), for
-- at most missing_average_periods in a row
av0 AS MATERIALIZED (
    SELECT mt.*, l.li,
           COALESCE(
               jsonb_path_query_array(COALESCE(mt.data -> 'anchors', '[]'), 'strict $[*] ? (@[0] <= $cut)',
                                      jsonb_build_object('cut', {cut_label})) -> -1,
               CASE WHEN mt.data -> 'anchors' -> 0 ->> 2 = '1'
                     AND l.li - {first_index} >= %(young_months)s
                    THEN mt.data -> 'anchors' -> 0 END) AS span_pt
    FROM mt
    CROSS JOIN LATERAL (SELECT {data_last_index} AS li) l
    WHERE mt.base AND mt.no_reading AND COALESCE((mt.data ->> 'missing_run')::int, 0) < %(missing_limit)s
),
av AS MATERIALIZED (
    SELECT av0.*, x.span,
           round(GREATEST((av0.data -> 'last' -> 1 ->> 0)::numeric - (av0.span_pt -> 1 ->> 0)::numeric, 0)
                 / x.span, 3) AS a1,
           round(GREATEST((av0.data -> 'last' -> 1 ->> 1)::numeric - (av0.span_pt -> 1 ->> 1)::numeric, 0)
                 / x.span, 3) AS a2,
           round(GREATEST((av0.data -> 'last' -> 1 ->> 2)::numeric - (av0.span_pt -> 1 ->> 2)::numeric, 0)
                 / x.span, 3) AS a3
    FROM av0
    CROSS JOIN LATERAL (SELECT av0.li - {span_index} AS span) x
    WHERE av0.span_pt IS NOT NULL AND jsonb_typeof(av0.span_pt -> 1) = 'array'
      AND jsonb_array_length(av0.span_pt -> 1) = av0.zones
),
-- every meter of the account in the common case, none rolled over (a customer's value below
-- the previous one)
fit AS MATERIALIZED (
    SELECT mt.account_id, CASE WHEN bool_or(u.meter_id IS NOT NULL) THEN 'actual' ELSE 'average' END AS basis
    FROM mt
    LEFT JOIN used u ON u.meter_id = mt.meter_id
    LEFT JOIN av ON av.meter_id = mt.meter_id
    GROUP BY mt.account_id
    HAVING bool_and(COALESCE(u.c1 >= 0 AND COALESCE(u.c2, 0) >= 0 AND COALESCE(u.c3, 0) >= 0, false)
                    OR av.meter_id IS NOT NULL)
),
-- the accounts closed here: those that fit (all of them in acc: their meters come from mm) and
-- have the statement of the month before (at most one: unique per account and month), looked up
-- account by account for the same reason as mm (the estimate stays that of fit, not 1 row)
fa AS MATERIALIZED (
    SELECT fit.account_id, pc.opening, fit.basis
    FROM fit CROSS JOIN LATERAL (
        SELECT pc.closing_balance AS opening FROM {t_close} pc
        WHERE pc.account_id = fit.account_id AND pc.period = %(prev)s
          AND pc.account_id BETWEEN %(lo)s AND %(hi)s OFFSET 0) pc
),
ml AS MATERIALIZED (
    SELECT u.*, u.last ->> 0 AS since,
           GREATEST(1, %(p_index)s - {last_index}) AS months,
           -- domain.billing._keep_anchors over the points (the anchors, then the last reading):
           -- the latest point at least average_min_months before this month (its label at most
           -- the cut's), then every later one, in their order. Every point has a label and the
           -- points are in month order (labels are the codec's 'YYYY-MM'; every state the engine
           -- and this statement write keeps them so), and the window moves a month a month:
           -- nearly always only the first point, or the first two, are that far back, and the
           -- anchors are then the points, or all but the first -- without filtering every point
           -- twice by label (the general form, below, for any other case).
           CASE WHEN COALESCE(pt.points -> 1 ->> 0 > %(cut_text)s COLLATE "C", true) THEN pt.points
                WHEN COALESCE(pt.points -> 2 ->> 0 > %(cut_text)s COLLATE "C", true) THEN pt.points - 0
                ELSE (SELECT CASE WHEN jsonb_array_length(g.far) = 0 THEN g.kept
                                  ELSE jsonb_build_array(g.far -> -1) || g.kept END
                      FROM (SELECT jsonb_path_query_array(pt.points, 'strict $[*] ? (@[0] <= $cut)',
                                                          %(cut)s::jsonb) AS far,
                                   jsonb_path_query_array(pt.points, 'strict $[*] ? (@[0] > $cut)',
                                                          %(cut)s::jsonb) AS kept) g)
           END AS anchors
    FROM used u JOIN fa ON fa.account_id = u.account_id
    -- OFFSET 0: the points are built once a row. A plain subquery is pulled up into the CASE
    -- above, and the concatenation was then computed again at each of its references (up to four).
    CROSS JOIN LATERAL (SELECT COALESCE(u.data -> 'anchors', '[]') || jsonb_build_array(u.last) AS points
                        OFFSET 0) pt
),
-- what the month trues up: the estimates billed since the last actual reading
est AS MATERIALIZED (
    SELECT u.meter_id, u.account_id, u.zones, u.p1, u.p2, u.p3, u.sp,
           COALESCE((u.data -> 'est' ->> 0)::numeric, 0) AS e1,
           COALESCE((u.data -> 'est' ->> 1)::numeric, 0) AS e2,
           COALESCE((u.data -> 'est' ->> 2)::numeric, 0) AS e3,
           COALESCE((NULLIF(u.data ->> 'est_norm', ''))::numeric, 0) AS en,
           jsonb_build_object('from', u.data -> 'est_periods' ->> 0, 'to', u.data -> 'est_periods' ->> -1,
                              'months', jsonb_array_length(u.data -> 'est_periods')::text) AS detail
    FROM ml u
    WHERE jsonb_typeof(u.data -> 'est_periods') = 'array' AND jsonb_array_length(u.data -> 'est_periods') > 0
),
am AS MATERIALIZED (
    SELECT av.* FROM av JOIN fa ON fa.account_id = av.account_id
),
lines AS MATERIALIZED (
    SELECT ml.account_id, ml.meter_id, 'charge' AS kind, 'actual' AS basis, z.zone, round(z.v, 3) AS volume,
           z.price, round(z.v * z.price, 2) AS amount, 'readings' AS reason,
           jsonb_build_object('since', ml.since, 'months', ml.months::text) AS detail
    FROM ml
    CROSS JOIN LATERAL (VALUES (1, ml.c1, ml.p1), (2, ml.c2, ml.p2), (3, ml.c3, ml.p3)) AS z (zone, v, price)
    -- the engine writes no line for a meter that consumed nothing in every zone
    WHERE z.zone <= ml.zones AND ml.c1 + COALESCE(ml.c2, 0) + COALESCE(ml.c3, 0) > 0
    UNION ALL
    -- the estimates by average reversed, zone by zone, at this month's prices
    SELECT e.account_id, e.meter_id, 'recalculation', 'recalculation', z.zone, -round(z.v, 3), z.price,
           -round(z.v * z.price, 2), 'estimates_reversed', e.detail
    FROM est e
    CROSS JOIN LATERAL (VALUES (1, e.e1, e.p1), (2, e.e2, e.p2), (3, e.e3, e.p3)) AS z (zone, v, price)
    WHERE z.zone <= e.zones AND e.e1 + e.e2 + e.e3 > 0
    UNION ALL
    -- the estimates by norm reversed, single-rate
    SELECT e.account_id, e.meter_id, 'recalculation', 'recalculation', 0, -round(e.en, 3), e.sp,
           -round(e.en * e.sp, 2), 'estimates_reversed', e.detail || '{{"norm": "1"}}'::jsonb
    FROM est e
    WHERE e.en > 0
    UNION ALL
    -- by average
    SELECT am.account_id, am.meter_id, 'charge', 'average', z.zone, z.v, z.price, round(z.v * z.price, 2),
           'readings_missing',
           jsonb_build_object('average_from', am.data -> 'last' ->> 0,
                              'run', (COALESCE((am.data ->> 'missing_run')::int, 0) + 1)::text,
                              'limit', %(missing_limit)s::text)
    FROM am
    CROSS JOIN LATERAL (VALUES (1, am.a1, am.p1), (2, am.a2, am.p2), (3, am.a3, am.p3)) AS z (zone, v, price)
    WHERE z.zone <= am.zones AND am.a1 + COALESCE(am.a2, 0) + COALESCE(am.a3, 0) > 0
),
-- the penalties computed in Python, as one JSON array of [account, "amount", detail, reason]
-- (``_penalty_rows``: the month's penalty, then any settlements; one text parameter: a text[] of
-- the details cost psycopg a regex escape of every quote in them)
pen AS MATERIALIZED (
    SELECT (p.e ->> 0)::bigint AS account_id, (p.e ->> 1)::numeric AS amount, p.e -> 2 AS detail,
           p.e ->> 3 AS reason, p.n
    FROM jsonb_array_elements(%(pen)s::jsonb) WITH ORDINALITY AS p (e, n)
),
ins_lines AS (
    INSERT INTO {t_ledger} (account_id, period, posted_on, kind, basis, meter_id, zone, band, volume,
                            price, amount, reason, detail, run_id, created_at)
    SELECT account_id, %(period)s, %(end)s, kind, basis, meter_id, zone, 1, volume, price, amount,
           reason, detail, %(run)s, %(moment)s
    FROM lines ORDER BY account_id, meter_id, kind, zone
    RETURNING 1
),
ins_pen AS (
    INSERT INTO {t_ledger} (account_id, period, posted_on, kind, basis, meter_id, zone, band, volume,
                            price, amount, reason, detail, run_id, created_at)
    SELECT pen.account_id, %(period)s, %(end)s, 'penalty', '', NULL, 0, 1, NULL, NULL, pen.amount,
           pen.reason, pen.detail, %(run)s, %(moment)s
    FROM pen JOIN fa ON fa.account_id = pen.account_id
    ORDER BY pen.n
    RETURNING 1
),
ins_states AS (
    INSERT INTO {t_state} (meter_id, account_id, period, data)
    SELECT ml.meter_id, ml.account_id, %(period)s, jsonb_build_object(
        'raw', CASE ml.zones WHEN 1 THEN jsonb_build_array(ml.t1::text)
                             WHEN 2 THEN jsonb_build_array(ml.t1::text, ml.t2::text)
                             ELSE jsonb_build_array(ml.t1::text, ml.t2::text, ml.t3::text) END,
        'last', jsonb_build_array(%(p_label)s::text, CASE ml.zones
            WHEN 1 THEN jsonb_build_array(((ml.last -> 1 ->> 0)::numeric + ml.c1)::text)
            WHEN 2 THEN jsonb_build_array(((ml.last -> 1 ->> 0)::numeric + ml.c1)::text,
                                          ((ml.last -> 1 ->> 1)::numeric + ml.c2)::text)
            ELSE jsonb_build_array(((ml.last -> 1 ->> 0)::numeric + ml.c1)::text,
                                   ((ml.last -> 1 ->> 1)::numeric + ml.c2)::text,
                                   ((ml.last -> 1 ->> 2)::numeric + ml.c3)::text) END, 0),
        'anchors', ml.anchors)
    FROM ml
    UNION ALL
    -- a month by average: the state as it was, plus the estimate (domain.billing.bill_meter)
    SELECT am.meter_id, am.account_id, %(period)s,
           jsonb_build_object(
               'raw', am.data -> 'raw', 'last', am.data -> 'last',
               'est_periods', CASE WHEN jsonb_typeof(am.data -> 'est_periods') = 'array'
                                   THEN am.data -> 'est_periods' ELSE '[]' END || jsonb_build_array(%(p_label)s::text),
               'missing_run', COALESCE((am.data ->> 'missing_run')::int, 0) + 1)
           || CASE WHEN jsonb_array_length(COALESCE(am.data -> 'anchors', '[]')) > 0
                   THEN jsonb_build_object('anchors', am.data -> 'anchors') ELSE '{{}}' END
           || CASE WHEN COALESCE((NULLIF(am.data ->> 'est_norm', ''))::numeric, 0) <> 0
                   THEN jsonb_build_object('est_norm', am.data -> 'est_norm') ELSE '{{}}' END
           || CASE WHEN e.e1 <> 0 OR e.e2 <> 0 OR e.e3 <> 0
                   THEN jsonb_build_object('est', CASE am.zones
                       WHEN 1 THEN jsonb_build_array(e.e1::text)
                       WHEN 2 THEN jsonb_build_array(e.e1::text, e.e2::text)
                       ELSE jsonb_build_array(e.e1::text, e.e2::text, e.e3::text) END)
                   ELSE '{{}}' END
    FROM am
    CROSS JOIN LATERAL (SELECT COALESCE((am.data -> 'est' ->> 0)::numeric, 0) + am.a1 AS e1,
                               COALESCE((am.data -> 'est' ->> 1)::numeric, 0) + COALESCE(am.a2, 0) AS e2,
                               COALESCE((am.data -> 'est' ->> 2)::numeric, 0) + COALESCE(am.a3, 0) AS e3) e
    ORDER BY 1
    RETURNING 1
)
INSERT INTO {t_close} (account_id, period, run_id, basis, opening_balance, charges, recalculations,
                       payments, penalty, closing_balance, due_date, closed_at)
SELECT fa.account_id, %(period)s, %(run)s, fa.basis, fa.opening, rc.charges, rc.recalcs, rc.payments,
       COALESCE(pen.amount, 0), fa.opening + rc.charges + rc.recalcs + COALESCE(pen.amount, 0) + rc.payments,
       %(due)s, %(moment)s
FROM fa
LEFT JOIN (SELECT l.account_id, SUM(l.amount) FILTER (WHERE l.kind = 'charge') AS charges,
                  SUM(l.amount) FILTER (WHERE l.kind = 'recalculation') AS recalcs
           FROM lines l GROUP BY l.account_id) lc
    ON lc.account_id = fa.account_id
LEFT JOIN (
    SELECT e.account_id,
           SUM(e.amount) FILTER (WHERE e.kind IN ('correction', 'recalculation')) AS recalcs,
           SUM(e.amount) FILTER (WHERE e.kind = 'payment') AS payments,
           SUM(e.amount) FILTER (WHERE e.kind = 'service') AS services
    FROM {t_ledger} e WHERE e.account_id BETWEEN %(lo)s AND %(hi)s AND e.period = %(period)s
    GROUP BY e.account_id) pe ON pe.account_id = fa.account_id
CROSS JOIN LATERAL (SELECT COALESCE(lc.charges, 0) + COALESCE(pe.services, 0) AS charges,
                           COALESCE(lc.recalcs, 0) + COALESCE(pe.recalcs, 0) AS recalcs,
                           COALESCE(pe.payments, 0) AS payments) rc
-- the month's penalty and the settlements of debts paid off, as one sum
LEFT JOIN (SELECT pen.account_id, SUM(pen.amount) AS amount FROM pen GROUP BY pen.account_id) pen
    ON pen.account_id = fa.account_id
ORDER BY fa.account_id
