-- Rows written after the time T: a restore to T must not have them.
INSERT INTO users (user_id, email, display_name) VALUES
    ('00000000-0000-0000-0000-000000000004', 'barbara@example.com', 'Barbara');
INSERT INTO payments (user_id, amount, currency, status, provider, provider_reference) VALUES
    ('00000000-0000-0000-0000-000000000004', 99.99, 'EUR', 'succeeded', 'stripe', 'pi_789');
INSERT INTO requests (user_id, api_key_id, method, path, status_code, outcome, cost, latency_ms)
SELECT '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0001-000000000001',
       'GET', '/v1/late/' || n, 200, 'completed', 0.001, n
FROM generate_series(1, 50) AS n;
