SELECT k, window_start, window_end, count(*) FROM SESSION(t1, a, INTERVAL '3' SECOND, c) GROUP BY k, window_start, window_end; SELECT * FROM HOP(t1, b, 1, 2, 0) AS h WHERE h.window_end > 0
