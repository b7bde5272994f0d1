-- Rows in every table, with values the verification recomputes.
INSERT INTO users (user_id, email, display_name) VALUES
    ('00000000-0000-0000-0000-000000000001', 'ada@example.com', 'Ada'),
    ('00000000-0000-0000-0000-000000000002', 'grace@example.com', 'Grace');
INSERT INTO api_keys (api_key_id, user_id, name, key_prefix, key_hash) VALUES
    ('00000000-0000-0000-0001-000000000001', '00000000-0000-0000-0000-000000000001', 'ci', 'bk_ada', 'hash-ada'),
    ('00000000-0000-0000-0001-000000000002', '00000000-0000-0000-0000-000000000002', 'ci', 'bk_grace', 'hash-grace');
INSERT INTO budgets (user_id, name, period, limit_amount, currency, window_start) VALUES
    ('00000000-0000-0000-0000-000000000001', 'monthly', 'monthly', 100.00, 'EUR', '2026-11-01T00:00:00Z');
INSERT INTO policies (user_id, name, kind, rules, priority) VALUES
    ('00000000-0000-0000-0000-000000000001', 'rate', 'rate_limit', '{"per_minute": 60}', 10);
INSERT INTO payments (user_id, amount, currency, status, provider, provider_reference) VALUES
    ('00000000-0000-0000-0000-000000000002', 42.50, 'EUR', 'succeeded', 'stripe', 'pi_123');
INSERT INTO requests (user_id, api_key_id, method, path, status_code, outcome, cost, latency_ms)
SELECT '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0001-000000000001',
       'GET', '/v1/items/' || n, 200, 'completed', 0.001 * n, n
FROM generate_series(1, 100) AS n;
