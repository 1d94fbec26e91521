-- Family: the ring a facility is a member of (features/rings, which leaves `ring_facility`: one row per
-- member facility of a ring found in the window). A facility in no ring has no row (the build fills 0).
SELECT
    fixmedins_code, ring_facilities, ring_persons, ring_pool_share, ring_burst_days,
    ring_trace_codes, ring_inside_share
FROM ring_facility
