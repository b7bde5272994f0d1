-- Rows in every table written after the backup and before the time T the drill restores to.
INSERT INTO users (user_id, email, display_name) VALUES
    ('00000000-0000-0000-0000-000000000003', 'edsger@example.com', 'Edsger');
INSERT INTO api_keys (api_key_id, user_id, name, key_prefix, key_hash) VALUES
    ('00000000-0000-0000-0001-000000000003', '00000000-0000-0000-0000-000000000003', 'ci', 'bk_edsger', 'hash-edsger');
INSERT INTO budgets (user_id, name, period, limit_amount, currency, window_start) VALUES
    ('00000000-0000-0000-0000-000000000003', 'monthly', 'monthly', 50.00, 'EUR', '2026-11-01T00:00:00Z');
INSERT INTO policies (user_id, name, kind, rules, priority) VALUES
    ('00000000-0000-0000-0000-000000000003', 'rate', 'rate_limit', '{"per_minute": 30}', 10);
INSERT INTO payments (user_id, amount, currency, status, provider, provider_reference) VALUES
    ('00000000-0000-0000-0000-000000000003', 7.25, 'EUR', 'succeeded', 'stripe', 'pi_456');
INSERT INTO requests (user_id, api_key_id, method, path, status_code, outcome, cost, latency_ms)
SELECT '00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0001-000000000003',
       'POST', '/v1/orders/' || n, 201, 'completed', 0.002 * n, n
FROM generate_series(1, 200) AS n;
